#!/bin/bash
B=${BUILD:-build}  # a release build directory
EV='syscalls:sys_enter_sendmsg,syscalls:sys_enter_write,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_recvfrom,syscalls:sys_enter_read,task-clock,context-switches,cpu-migrations'
for rep in 1 2; do
  $B/samples/hcp/howdy-server --port 0 --threads 1 --quiet --max-connections 20000 --message-rate 0 --max-connections-per-address 0 > srv-l.out 2>&1 &
  SP=$!
  for i in $(seq 50); do grep -q "listening on" srv-l.out && break; sleep 0.1; done
  PORT=$(grep -o 'listening on [0-9.]*:[0-9]*' srv-l.out | sed 's/.*://')
  $B/benchmarks/howdy-bench -P $PORT -n 100 -m 5000 --rate 1000 --drain-timeout 5 --server-pid $SP --name-prefix s$rep > b-h$rep.txt 2>&1 &
  BP=$!; sleep 1
  perf stat -e $EV -p $SP -o stat-l-h$rep.txt -- sleep 3
  wait $BP; kill -TERM $SP; wait $SP
  RP=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  redis-server --port $RP --bind 127.0.0.1 --save '' --appendonly no --maxclients 20000 --loglevel warning > /dev/null 2>&1 &
  SP=$!; sleep 0.5
  $B/benchmarks/howdy-bench -p redis -P $RP -n 100 -m 5000 --rate 1000 --drain-timeout 5 --server-pid $SP > b-r$rep.txt 2>&1 &
  BP=$!; sleep 1
  perf stat -e $EV -p $SP -o stat-l-r$rep.txt -- sleep 3
  wait $BP; kill -TERM $SP; wait $SP
done
