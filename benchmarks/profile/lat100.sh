#!/bin/bash
# 1000 msg/s into 100, alternating howdy-t1 and redis; prints p99 and server CPU per delivery
B=${BUILD:-build}  # a release build directory
for rep in 1 2 3 4; do
  $B/samples/hcp/howdy-server --port 0 --threads 1 --quiet --max-connections 20000 --message-rate 0 --max-connections-per-address 0 > srv-l.out 2>&1 &
  SP=$!
  for i in $(seq 50); do grep -q "listening on" srv-l.out && break; sleep 0.1; done
  PORT=$(grep -o 'listening on [0-9.]*:[0-9]*' srv-l.out | sed 's/.*://')
  $B/benchmarks/howdy-bench -P $PORT -n 100 -m 5000 --rate 1000 --drain-timeout 5 --server-pid $SP --name-prefix h$rep > b.txt 2>&1
  echo "howdy $rep: $(grep -E 'latency|per read' b.txt | tr -s ' ' | tr '\n' ' ')"
  kill -TERM $SP; wait $SP
  RP=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  redis-server --port $RP --bind 127.0.0.1 --save '' --appendonly no --maxclients 20000 --loglevel warning > /dev/null 2>&1 &
  SP=$!
  sleep 0.5
  $B/benchmarks/howdy-bench -p redis -P $RP -n 100 -m 5000 --rate 1000 --drain-timeout 5 --server-pid $SP > b.txt 2>&1
  echo "redis $rep: $(grep -E 'latency|per read' b.txt | tr -s ' ' | tr '\n' ' ')"
  kill -TERM $SP; wait $SP
done
