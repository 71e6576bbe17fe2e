# Shared by scripts/load.sh and scripts/load_icount.sh (sourced): the modes of
# examples/load_server.rs, their paths, and the checks every measured run passes first.

ALL_MODES=(bare floor axum dynamic cached cached_tower table1000 axum1000)

path_of() {
  case $1 in
    table1000 | axum1000) echo /r999/items/42 ;;
    *) echo /api/hello ;;
  esac
}

need_wrk() {
  command -v wrk >/dev/null && return
  echo "installing wrk" >&2
  if [[ $(id -u) -eq 0 ]]; then
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  else
    sudo apt-get install -y wrk >/dev/null
  fi
}

# free_port START: the first port from START on that nothing listens on.
free_port() {
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

port_free() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    echo "port $1 is already in use; set PORT" >&2
    exit 1
  fi
}

# wait_for PID URL TRIES: until URL answers (0.1 s apart), or the server has exited.
wait_for() {
  local i
  for i in $(seq 1 "$3"); do
    curl -s -o /dev/null "$2" && return
    kill -0 "$1" 2>/dev/null || { echo "the server exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "$2 did not answer" >&2
  exit 1
}

# check_answer MODE URL: the answer the run stands for. Every mode answers 200 with the
# 13-byte body; the cached modes' answer (after the first, which fills) is a hit, and the
# floor sends a copy of one.
check_answer() {
  local mode=$1 url=$2 head body
  head=$(mktemp)
  body=$(curl -s -D "$head" "$url")
  if ! grep -q '^HTTP/1.1 200' "$head" || [[ $body != "Hello, World!" && $body != ok ]]; then
    echo "$mode: $url answered:" >&2
    cat "$head" >&2
    exit 1
  fi
  if [[ $mode == cached || $mode == cached_tower || $mode == floor ]]; then
    curl -s -o /dev/null -D "$head" "$url"
    if ! grep -qi '^x-route-cache: HIT' "$head"; then
      echo "$mode: $url is not a cache hit:" >&2
      cat "$head" >&2
      exit 1
    fi
  fi
  rm -f "$head"
}

# check_report MODE WRK_OUTPUT: no non-2xx answer, no socket error.
check_report() {
  if grep -qE 'Non-2xx|Socket errors' <<<"$2"; then
    echo "$1: errors during the run:" >&2
    echo "$2" >&2
    exit 1
  fi
}
