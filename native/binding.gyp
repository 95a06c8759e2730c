{
  "targets": [
    {
      "target_name": "trine_native",
      "sources": [
        "src/addon.c",
        "src/activation_quant.c",
        "src/bit_linear.c",
        "src/forward.c",
        "src/mixer_ops.c",
        "src/sampling_weights.c",
        "src/dispatch.c",
        "src/cpu_paths.c",
        "src/thread_pool.c",
        "src/stream_read.c",
        "src/kernel_scalar.c",
        "src/kernel_avx2.c",
        "src/kernel_avx512vnni.c",
        "src/kernel_neon.c"
      ],
      "cflags_c": [
        "-std=gnu11",
        "-O3",
        "-fno-math-errno",
        "-ffp-contract=off"
      ],
      "cflags!": [
        "-O2"
      ],
      "libraries": [
        "-lpthread"
      ],
      "xcode_settings": {
        "OTHER_CFLAGS": [
          "-std=gnu11",
          "-O3",
          "-ffp-contract=off"
        ]
      }
    }
  ]
}
