/* A minimal qmail-queue for the benchmark (benches/smtpd.rs compiles it
 * with gcc into target/): reads the message on fd 0 and the envelope on
 * fd 1 to end of file, in 64 KiB reads (a pipe's whole capacity), stores
 * nothing and exits 0, as qmail-queue does after queueing. Exit 54 ("qq
 * read error") if a read fails. */
#include <errno.h>
#include <unistd.h>

static char buf[65536];

static int drain(int fd)
{
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) return 0;
    if (n < 0 && errno != EINTR) return -1;
  }
}

int main(void)
{
  if (drain(0) == -1) return 54;
  if (drain(1) == -1) return 54;
  return 0;
}
