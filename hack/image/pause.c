/* The pod sandbox's process (registry.k8s.io/pause's role): holds the pod's
 * namespaces, sleeps, reaps the children it inherits as PID 1 (SIGCHLD), and
 * exits 0 on SIGTERM or SIGINT. -v prints the version.
 * Built by hack/image/build-images.sh: gcc -static -Os -s. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAUSE_VERSION "3.10.1"

static void onStop(int signo) {
  (void)signo;
  _exit(0);
}

static void onChild(int signo) {
  (void)signo;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    printf("pause %s (eventworker)\n", PAUSE_VERSION);
    return 0;
  }
  struct sigaction stop = {.sa_handler = onStop};
  struct sigaction child = {.sa_handler = onChild, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  if (sigaction(SIGTERM, &stop, NULL) < 0 || sigaction(SIGINT, &stop, NULL) < 0 ||
      sigaction(SIGCHLD, &child, NULL) < 0) {
    perror("pause: sigaction");
    return 1;
  }
  for (;;) pause();
}
