set terminal pngcairo size 1200,1000 font 'sans,9'
set output '/work/main/bench/out/quick-1201c/plots/timeline-1G-vmig_none-ac-vs-qemu_xbzrle-ac.png'
set datafile missing '?'
set grid
set key top right font ',8'
set multiplot layout 4,2 title '1G: vmig none-ac vs qemu xbzrle-ac, median runs'
set title 'vmig none-ac' font ',9'
set ylabel 'MiB/s'
set xlabel 'seconds since migrate'
set yrange [0:*]
unset object 1
plot '/work/main/bench/out/quick-1201c/plots/timeline-1G-vmig_none-ac-vs-qemu_xbzrle-ac.0.dat' using 1:2 title 'wire rate (0.5 s)' w l lw 2, '/work/main/bench/out/quick-1201c/plots/timeline-1G-vmig_none-ac-vs-qemu_xbzrle-ac.0.dat' using 1:3 title 'dirty rate' w l
set title 'qemu xbzrle-ac' font ',9'
set ylabel 'MiB/s'
set xlabel 'seconds since migrate'
set yrange [0:*]
unset object 1
plot '/work/main/bench/out/quick-1201c/plots/timeline-1G-vmig_none-ac-vs-qemu_xbzrle-ac.1.dat' using 1:2 title 'wire rate (0.5 s)' w l lw 2, '/work/main/bench/out/quick-1201c/plots/timeline-1G-vmig_none-ac-vs-qemu_xbzrle-ac.1.dat' using 1:3 title 'dirty rate' w l
set title 'vmig none-ac' font ',9'
set ylabel 'remaining MiB'
set xlabel 'seconds since migrate'
set yrange [0:*]
unset object 1
plot '/work/main/bench/out/quick-1201c/plots/timeline-1G-vmig_none-ac-vs-qemu_xbzrle-ac.0.dat' using 1:4 notitle w l lw 2
set title 'qemu xbzrle-ac' font ',9'
set ylabel 'remaining MiB'
set xlabel 'seconds since migrate'
set yrange [0:*]
unset object 1
plot '/work/main/bench/out/quick-1201c/plots/timeline-1G-vmig_none-ac-vs-qemu_xbzrle-ac.1.dat' using 1:4 notitle w l lw 2
set title 'vmig none-ac' font ',9'
set ylabel 'throttle %'
set xlabel 'seconds since migrate'
set yrange [0:100]
unset object 1
plot '/work/main/bench/out/quick-1201c/plots/timeline-1G-vmig_none-ac-vs-qemu_xbzrle-ac.0.dat' using 1:5 notitle w steps lw 2
set title 'qemu xbzrle-ac' font ',9'
set ylabel 'throttle %'
set xlabel 'seconds since migrate'
set yrange [0:100]
unset object 1
plot '/work/main/bench/out/quick-1201c/plots/timeline-1G-vmig_none-ac-vs-qemu_xbzrle-ac.1.dat' using 1:5 notitle w steps lw 2
set title 'vmig none-ac' font ',9'
set ylabel 'guest MiB/s'
set xlabel 'seconds since migrate'
set yrange [0:*]
unset object 1
plot '/work/main/bench/out/quick-1201c/plots/timeline-1G-vmig_none-ac-vs-qemu_xbzrle-ac.0.dat' using 1:6 notitle w lp pt 7 ps 0.5
set title 'qemu xbzrle-ac' font ',9'
set ylabel 'guest MiB/s'
set xlabel 'seconds since migrate'
set yrange [0:*]
unset object 1
plot '/work/main/bench/out/quick-1201c/plots/timeline-1G-vmig_none-ac-vs-qemu_xbzrle-ac.1.dat' using 1:6 notitle w lp pt 7 ps 0.5
unset multiplot
