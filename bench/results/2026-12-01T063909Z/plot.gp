set terminal pngcairo size 1000,650 font 'sans,11'
set output 'downtime.png'
set title 'podferry benchmark: downtime as the workload sees it (median, bars: min–max)'
set xlabel 'containers in the pod'
set ylabel 'downtime (s)'
set logscale y
set grid
set key outside right
set xrange [0.5:4.5]
set xtics (1, 3, 4)
plot 'plot.dat' index 0 using 1:2:3:4 with yerrorlines title 'podferry 64 MiB' dt 1 lw 2 lc rgb '#d95f02' pt 5, \
     'plot.dat' index 1 using 1:2:3:4 with yerrorlines title 'podferry 256 MiB' dt 1 lw 2 lc rgb '#7570b3' pt 5, \
     'plot.dat' index 2 using 1:2:3:4 with yerrorlines title 'floor 64 MiB' dt 3 lw 2 lc rgb '#d95f02' pt 7, \
     'plot.dat' index 3 using 1:2:3:4 with yerrorlines title 'floor 256 MiB' dt 3 lw 2 lc rgb '#7570b3' pt 7, \
     'plot.dat' index 4 using 1:2:3:4 with yerrorlines title 'postcopy 64 MiB' dt 3 lw 2 lc rgb '#d95f02' pt 7, \
     'plot.dat' index 5 using 1:2:3:4 with yerrorlines title 'postcopy 256 MiB' dt 3 lw 2 lc rgb '#7570b3' pt 7
