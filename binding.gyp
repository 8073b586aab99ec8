{
  "targets": [
    {
      "target_name": "tsvisor_kvm",
      "sources": [
        "native/addon.cc",
        "native/common.cc",
        "native/system.cc",
        "native/vm.cc",
        "native/vcpu.cc",
        "native/vcpu-thread.cc",
        "native/mapping.cc",
        "native/memory.cc",
        "native/eventfd.cc",
        "native/layout.cc",
        "native/tap.cc",
        "native/loop-wake.cc",
        "native/file-lock.cc",
        "native/thread.cc",
        "native/fd-watch.cc",
        "native/kvm_abi.c"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
