# The timeline of a coordsim run (called by plots/plot.sh, which sets ops,
# roles, faults, name, seed, verdict, duration, servers, nops, nroles,
# nfaults, every and out).
if (out[strlen(out) - 2:] eq "png") {
  set terminal pngcairo size 1200,760 font "sans,10"
} else {
  set terminal svg size 1200,760 dynamic enhanced font "sans,12" background "white"
}
set output out
set multiplot layout 2,1 title sprintf("%s   seed %s   verdict: %s", name, seed, verdict) font "sans,15"

# Okabe-Ito colours (colour-blind safe).
rolecolor(r) = r eq "leading" ? 0xD55E00 : r eq "following" ? 0x0072B2 : \
               r eq "observing" ? 0x56B4E9 : r eq "looking" ? 0xF0E442 : \
               r eq "paused" ? 0xCC79A7 : r eq "down" ? 0x000000 : 0x999999
set xrange [0:duration]
set style fill solid 1.0 noborder

# ---- top: who was what, and the faults ----
set size 1,0.46
set origin 0,0.50
set lmargin 10
set rmargin 14
set ylabel "server"
set yrange [0.4:servers + 1.2]
set ytics 1
set ytics add ("" servers + 1)
set format x ""
set grid xtics lc rgb "#dddddd"
set key outside right top vertical Left reverse noenhanced title "role"
plot \
  faults using (($1 + $2) / 2):((servers + 1.2 + 0.4) / 2):(($2 - $1) / 2 > 0.05 ? ($2 - $1) / 2 : 0.05):((servers + 1.2 - 0.4) / 2) \
      with boxxyerror fs solid 1.0 noborder lc rgb "#E4E4E4" notitle, \
  faults using 1:(servers + 0.85):(sprintf("%s %s", strcol(3), strcol(4))) \
      with labels left offset 0.3,0 font "sans,9" noenhanced notitle, \
  roles using (($2 + $3) / 2):1:(($3 - $2) / 2):(0.32):(rolecolor(strcol(4))) \
      with boxxyerror fs solid 1.0 noborder lc rgb variable notitle, \
  NaN with boxes fs solid lc rgb "#D55E00" title "leading", \
  NaN with boxes fs solid lc rgb "#0072B2" title "following", \
  NaN with boxes fs solid lc rgb "#56B4E9" title "observing", \
  NaN with boxes fs solid lc rgb "#F0E442" title "looking", \
  NaN with boxes fs solid lc rgb "#CC79A7" title "paused", \
  NaN with boxes fs solid lc rgb "#000000" title "down", \
  NaN with boxes fs solid lc rgb "#E4E4E4" title "fault"

# ---- bottom: every client operation ----
set size 1,0.48
set origin 0,0.02
unset ytics
set ytics auto
set format x "%g"
set xlabel "simulated time (s)"
set ylabel "latency (s)"
set logscale y
set yrange [*:*]
set format y "%g"
set key outside right top vertical Left reverse noenhanced title (every > 1 ? sprintf("ok: 1 in %d shown", every) : "outcome")
okc = "#009E73"; failc = "#E41A1C"; infoc = "#E69F00"; pendc = "#7F7F7F"
pt_of(t) = t eq "read" ? 7 : t eq "write" ? 5 : t eq "cas" ? 9 : t eq "create" ? 13 : 1
if (nops > 0) {
  plot \
    ops using 1:(strcol(4) eq "ok" ? $2 : NaN):(pt_of(strcol(3))) with points pt variable ps 0.35 lc rgb okc notitle, \
    ops using 1:(strcol(4) eq "fail" ? $2 : NaN):(pt_of(strcol(3))) with points pt variable ps 0.6 lc rgb failc notitle, \
    ops using 1:(strcol(4) eq "info" ? $2 : NaN):(pt_of(strcol(3))) with points pt variable ps 0.6 lc rgb infoc notitle, \
    ops using 1:(strcol(4) eq "pending" ? $2 : NaN):(pt_of(strcol(3))) with points pt variable ps 0.6 lc rgb pendc notitle, \
    NaN with points pt 7 ps 1.2 lc rgb okc title "ok", \
    NaN with points pt 7 ps 1.2 lc rgb failc title "fail", \
    NaN with points pt 7 ps 1.2 lc rgb infoc title "info (unknown)", \
    NaN with points pt 7 ps 1.2 lc rgb pendc title "pending", \
    NaN with points pt 7 lc rgb "#444444" title "read", \
    NaN with points pt 5 lc rgb "#444444" title "write", \
    NaN with points pt 9 lc rgb "#444444" title "cas", \
    NaN with points pt 13 lc rgb "#444444" title "create", \
    NaN with points pt 1 lc rgb "#444444" title "other"
} else {
  set yrange [0.001:1]
  set label 1 "no client operations in this run" at duration / 2, 0.03 center
  plot NaN notitle
}
unset multiplot
