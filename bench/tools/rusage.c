/* Runs COMMAND once, its stdout and stderr to /dev/null, and prints one JSON
 * line with its exit code, wall time, CPU time (user + system) and peak RSS
 * (ru_maxrss), all from wait4.
 *
 *   rusage COMMAND [ARGS...]
 *
 * Why a C program: ru_maxrss is a high-water mark that survives exec, so a
 * child started straight from python3 reports at least python's own RSS
 * (about 15 MiB). This process is small; its child starts from a copy of it,
 * so the floor is about 1 MiB (bench/run.sh reports it, measuring /bin/true).
 * run.sh compiles it with the system C compiler. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double ms(struct timeval t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; }

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: rusage COMMAND [ARGS...]\n");
    return 2;
  }
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    execvp(argv[1], argv + 1);
    _exit(127);
  }
  int status = 0;
  struct rusage usage;
  if (wait4(pid, &status, 0, &usage) < 0) {
    perror("wait4");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  const double wall = (end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) / 1e6;
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  printf("{\"exit_code\": %d, \"wall_ms\": %.3f, \"cpu_ms\": %.3f, \"rss_kib\": %ld}\n", code,
         wall, ms(usage.ru_utime) + ms(usage.ru_stime), usage.ru_maxrss);
  return 0;
}
