# Latency distribution of the acknowledged operations of a coordsim run, per
# type (called by plots/plot.sh). Each curve is a CDF: the fraction of ok
# operations of that type answered within the time on the x axis.
if (out[strlen(out) - 2:] eq "png") {
  set terminal pngcairo size 1200,700 font "sans,10"
} else {
  set terminal svg size 1200,700 dynamic enhanced font "sans,12" background "white"
}
set output out
set title sprintf("%s   seed %s   latency of acknowledged operations (CDF)", name, seed) noenhanced
set xlabel "latency (s)"
set ylabel "fraction of ok operations"
set logscale x
set format x "%g"
set yrange [0:1.02]
set grid
set key right bottom noenhanced
if (strlen(cdfs) == 0) {
  set xrange [0.001:1]
  set label 1 "no acknowledged operation in this run" at 0.03, 0.5 center
  plot NaN notitle
  exit
}
plot for [t in cdfs] sprintf("%s/cdf_%s.dat", cdfdir, t) using 1:2 with steps lw 2 title t
