# Shared by scripts/bench.sh and scripts/bench-telemetry.sh: reading figures out of the output of
# scripts/bench-once.sh. Source it.

# The first number after "<label>:" in a run's output.
figure() { grep -m1 "^$1:" "$2" | sed -E 's/^[^:]*: *([0-9.]+).*/\1/'; }
# The median of the numbers on stdin, one per line.
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# Machine CPU per project (ms) of a run's output.
cpu_per_project() { grep -m1 '^machine CPU busy' "$1" | sed -E 's/.*core-s, ([0-9.]+) ms.*/\1/'; }
