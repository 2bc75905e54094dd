# demo-lib.sh -- what conf/run-demo and conf/run-cluster share (sourced, not run): ports, the
# two simulated source feeds, and the demo configuration pointed at a data directory and ports.
# The caller sets `pids=()` and a trap that kills "${pids[@]}".

busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 20); do busy "$1" && return 0; sleep 0.25; done; return 1; }

# refuse_busy PORT...: exit when one of the ports is taken.
refuse_busy() {
  for p in "$@"; do
    if busy "$p"; then echo "port $p is in use (make run or make cluster?); stop that first" >&2; exit 1; fi
  done
}

# start_feeds FEEDSIM FEED_PORT OUTBOX_PORT LOG: the demo's two feeds (an activity-stream feed of
# 5,000 activities over the last two hours with new, updated and deleted ones every second, and
# an outbox of 500 over the last hour), made up around the current time; waits until both listen.
start_feeds() {
  "$1" --port "$2" --style activity-stream --count 5000 --rate 5 --update-rate 0.5 \
    --delete-rate 0.2 --start-time now-2h --seed 1 >>"$4" 2>&1 &
  pids+=($!)
  "$1" --port "$3" --style outbox --count 500 --rate 1 --page-size 40 --seed 2 \
    --start-time now-1h >>"$4" 2>&1 &
  pids+=($!)
  wait_port "$2" && wait_port "$3"
}

# demo_config CONF DATA_DIR PORT FEED_PORT OUTBOX_PORT: CONF on stdout, with its data_dir and
# its listen and feed ports replaced.
demo_config() {
  sed -e "s|^data_dir:.*|data_dir: $2|" -e "s|127\.0\.0\.1:8080|127.0.0.1:$3|" \
      -e "s|127\.0\.0\.1:8081|127.0.0.1:$4|" -e "s|127\.0\.0\.1:8082|127.0.0.1:$5|" "$1"
}
