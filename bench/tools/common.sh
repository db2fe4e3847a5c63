# Shell helpers shared by bench/run.sh and bench/soak.sh (sourced; needs $py,
# the python3 interpreter).

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

machine_rows() {  # the CPU, memory and OS rows of a report's markdown machine table
  echo "| CPU | $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs available |"
  echo "| memory | $(free -m | awk '/^Mem:/ { print $2 " MiB" }') |"
  echo "| OS / kernel | $(. /etc/os-release && echo "$PRETTY_NAME") / $(uname -r) |"
}
