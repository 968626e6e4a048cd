# Throughput and GET p50 against requests in flight, from bench/results.dat
# (written by `cafcache-bench --bench.suite`). Run: gnuplot bench/plot.gp
set terminal pngcairo size 1000,420 font ",10"
set output "bench/results.png"
set multiplot layout 1,2
set logscale x 2
set xlabel "requests in flight"
set grid
set key top left
set title "GET throughput (10k keys, 100 B)"
set ylabel "requests / s"
plot "bench/results.dat" using 1:2 with linespoints lw 2 title "cafcache", \
     "" using 1:3 with linespoints lw 2 title "redis-benchmark (same -c; at 200: -c 50 -P 16)"
set title "GET latency p50"
set ylabel "microseconds"
set logscale y
plot "bench/results.dat" using 1:4 with linespoints lw 2 title "cafcache", \
     "" using 1:5 with linespoints lw 2 title "redis-benchmark (same -c; at 200: -c 50 -P 16)"
unset multiplot
