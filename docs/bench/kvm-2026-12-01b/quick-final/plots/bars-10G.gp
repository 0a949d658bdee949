set terminal pngcairo size 1500,520 font 'sans,9'
set output '/work/main/bench/out/quick-1201c/plots/bars-10G.png'
set datafile missing '?'
set style fill solid 0.7 border -1
set boxwidth 0.7
set xrange [-0.6:2.6]
set offsets 0, 0, graph 0.08, 0
set xtics rotate by -35 left font ',8'
set grid ytics
unset key
set multiplot layout 1,3 title '10G: median, min-max (converged runs)'
set yrange [0:*]
set title 'total time (s)'
plot '/work/main/bench/out/quick-1201c/plots/bars-10G.dat' using 0:2:11:xtic(1) with boxes lc rgb variable, '' using 0:2:3:4 with yerrorbars lc black pt 7 ps 0.4
set yrange [0:*]
set title 'downtime (ms)'
plot '/work/main/bench/out/quick-1201c/plots/bars-10G.dat' using 0:5:11:xtic(1) with boxes lc rgb variable, '' using 0:5:6:7 with yerrorbars lc black pt 7 ps 0.4
set yrange [0:*]
set title 'migration CPU, both sides (s)'
plot '/work/main/bench/out/quick-1201c/plots/bars-10G.dat' using 0:8:11:xtic(1) with boxes lc rgb variable, '' using 0:8:9:10 with yerrorbars lc black pt 7 ps 0.4
unset multiplot
