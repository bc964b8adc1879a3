set terminal pngcairo size 1000,650 font 'sans,11'
set output 'downtime.png'
set title 'podferry benchmark: downtime as the workload sees it (median, bars: min–max)'
set xlabel 'containers in the pod'
set ylabel 'downtime (s)'
set logscale y
set grid
set key outside right
set xrange [0.5:1.5]
set xtics (1)
plot 'plot.dat' index 0 using 1:2:3:4 with yerrorlines title 'podferry 1024 MiB' dt 1 lw 2 lc rgb '#7570b3' pt 5, \
     'plot.dat' index 1 using 1:2:3:4 with yerrorlines title 'floor 1024 MiB' dt 3 lw 2 lc rgb '#7570b3' pt 7, \
     'plot.dat' index 2 using 1:2:3:4 with yerrorlines title 'postcopy 1024 MiB' dt 3 lw 2 lc rgb '#7570b3' pt 7
