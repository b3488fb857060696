#!/bin/bash
# max-rate profile at N=1000: perf record during publish, then a second run for the sendmsg count
B=${BUILD:-build}  # a release build directory
run() { # $1 = tag, $2 = perf command prefix (after sleep)
  $B/samples/hcp/howdy-server --port 0 --threads 1 --quiet --max-connections 20000 --message-rate 0 --max-connections-per-address 0 > srv-$1.out 2>&1 &
  SP=$!
  for i in $(seq 50); do grep -q "listening on" srv-$1.out && break; sleep 0.1; done
  PORT=$(grep -o 'listening on [0-9.]*:[0-9]*' srv-$1.out | sed 's/.*://')
  echo "$1: server pid $SP port $PORT"
  $B/benchmarks/howdy-bench -P $PORT -n 1000 -m $3 --server-pid $SP > bench-$1.txt 2>&1 &
  BP=$!
  sleep 1.5
  eval "$2"
  wait $BP; echo "bench exit $?"
  kill -TERM $SP; wait $SP
}
run record "perf record -g -o perf-max.data -p \$SP -- sleep 4 2> rec.err" 20000
run stat "perf stat -e 'syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_writev,syscalls:sys_enter_recvmsg,syscalls:sys_enter_read,syscalls:sys_enter_epoll_wait,task-clock,context-switches' -p \$SP -o stat-max.txt -- sleep 3" 20000
