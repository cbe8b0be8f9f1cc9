/* The exec floor of the benchmark: the cheapest program there is. Compiled
 * with gcc -O2 -static by benches/smtpd.rs, so its start-up is exec and
 * exit with no dynamic loader. */
int main(void)
{
  return 0;
}
