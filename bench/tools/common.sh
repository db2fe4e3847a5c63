# Shell helpers shared by bench/run.sh, bench/soak.sh and scripts/gatekeeper-suite.sh
# (sourced; needs $py, the python3 interpreter).

free_port() {  # prints a TCP port that is free on 127.0.0.1 right now
  "$py" -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() {  # URL [curl options...]: waits up to 15 s for any HTTP answer
  local url=$1
  shift
  for _ in $(seq 150); do
    if curl -s -o /dev/null "$@" "$url"; then return 0; fi
    sleep 0.1
  done
  return 1
}

registry_config() {  # DIR PORT [ACCESS_LOG]: DIR/registry.yml for a plain-HTTP
  # docker-registry on 127.0.0.1:PORT storing in DIR/registry-data; with
  # ACCESS_LOG=1 it also logs every request.
  {
    echo "version: 0.1"
    echo "log:"
    echo "  level: error"
    if [ "${3:-0}" = 1 ]; then
      echo "  accesslog:"
      echo "    disabled: false"
    fi
    echo "storage:"
    echo "  filesystem:"
    echo "    rootdirectory: $1/registry-data"
    echo "http:"
    echo "  addr: 127.0.0.1:$2"
  } > "$1/registry.yml"
}

machine_rows() {  # the CPU, memory and OS rows of a report's markdown machine table
  echo "| CPU | $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs available |"
  echo "| memory | $(free -m | awk '/^Mem:/ { print $2 " MiB" }') |"
  echo "| OS / kernel | $(. /etc/os-release && echo "$PRETTY_NAME") / $(uname -r) |"
}
