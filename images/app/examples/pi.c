/*
 * pi by counting lattice points: the number of (x, y) with 0 <= x, y < N and x^2 + y^2 < N^2, summed
 * over MPI ranks (each counts the columns x = rank, rank + size, ...). The count is an integer, so
 * the result is the same for any number of ranks, bit for bit; pi ~ 4 * count / N^2.
 *
 * Usage: pi INPUT OUTPUT. INPUT holds N (a positive integer); rank 0 writes "N count pi" to OUTPUT.
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  int rank, size;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  long long n = 0;
  if (rank == 0) {
    FILE *in = argc == 3 ? fopen(argv[1], "r") : NULL;
    if (in == NULL || fscanf(in, "%lld", &n) != 1 || n <= 0 || n > 100000000LL) {
      fprintf(stderr, "pi: usage: pi INPUT OUTPUT, INPUT holding an integer from 1 to 100000000\n");
      n = -1;
    }
    if (in) fclose(in);
  }
  MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  if (n < 0) {
    MPI_Finalize();
    return 2;
  }
  long long local = 0, total = 0;
  for (long long x = rank; x < n; x += size) {
    /* y^2 < n^2 - x^2: count y = 0 .. floor(sqrt(n^2 - x^2 - 1)) */
    long long r2 = n * n - x * x;
    long long y = (long long)sqrtl((long double)(r2 - 1));
    while (y * y >= r2) y--;
    while ((y + 1) * (y + 1) < r2) y++;
    local += y + 1;
  }
  MPI_Reduce(&local, &total, 1, MPI_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
  int status = 0;
  if (rank == 0) {
    FILE *out = fopen(argv[2], "w");
    if (out == NULL || fprintf(out, "%lld %lld %.12Lf\n", n, total, 4.0L * (long double)total / ((long double)n * (long double)n)) < 0 || fclose(out) != 0) {
      perror("pi: writing the output");
      status = 1;
    }
    printf("pi: %d ranks, N=%lld, count=%lld\n", size, n, total);
  }
  MPI_Finalize();
  return status;
}
