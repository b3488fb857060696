#!/bin/bash
# latency point: 100 msg/s into 1000, 10 s; server: perf record 4 s then perf stat 3 s; generator: perf stat
B=${BUILD:-build}  # a release build directory
$B/samples/hcp/howdy-server --port 0 --threads 1 --quiet --max-connections 20000 --message-rate 0 --max-connections-per-address 0 > srv-lat.out 2>&1 &
SP=$!
for i in $(seq 50); do grep -q "listening on" srv-lat.out && break; sleep 0.1; done
PORT=$(grep -o 'listening on [0-9.]*:[0-9]*' srv-lat.out | sed 's/.*://')
echo "lat: server pid $SP port $PORT"
$B/benchmarks/howdy-bench -P $PORT -n 1000 -m 1000 --rate 100 --drain-timeout 5 --server-pid $SP > bench-lat.txt 2>&1 &
BP=$!
sleep 1.5
perf stat -e task-clock,context-switches,'syscalls:sys_enter_read','syscalls:sys_enter_recvmsg','syscalls:sys_enter_recvfrom','syscalls:sys_enter_epoll_wait','syscalls:sys_enter_sendmsg','syscalls:sys_enter_sendto' -p $BP -o stat-lat-gen.txt -- sleep 7 &
GS=$!
perf record -g -o perf-lat.data -p $SP -- sleep 4 2> rec-lat.err
perf stat -e 'syscalls:sys_enter_sendmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_recvmsg,syscalls:sys_enter_read,task-clock,context-switches' -p $SP -o stat-lat.txt -- sleep 3
wait $GS
wait $BP; echo "bench exit $?"
kill -TERM $SP; wait $SP
