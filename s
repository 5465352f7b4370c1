torch 1.13.0a0: speedup_vs_pytorch: 2.270 (vs 2 threads)  speedup_vs_best: 0.304 (vs 1 thread1)
torch 2.15.0+cu132: speedup_vs_pytorch: 3.977 (vs 2 threads)  speedup_vs_best: 0.431 (vs 1 thread1)
