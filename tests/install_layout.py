"""What an install of qlaster holds, for install_test.py (a `cmake --install` tree) and
package_test.py (the Debian package's files)."""
import os
import re


def check_layout(files, usr, etc):
    """Returns (missing, unexpected) for `files`, the set of installed file and symlink
    paths, where `usr` is the prefix as those paths spell it ("" for a prefix tree,
    "/usr" for the package) and `etc` the configuration directory ("etc", "/etc"). The
    library directory (lib or lib/<multiarch>) is read from where the pkg-config file is;
    binaries and units of programs a build may lack (qlaster-bench, qlaster-relay,
    qlaster-grpc) are allowed, and required with each other."""
    def u(path):
        return os.path.join(usr, path) if usr else path

    pcs = [f for f in files if f.endswith("/pkgconfig/qlaster-consumer.pc")]
    lib = os.path.dirname(os.path.dirname(pcs[0])) if len(pcs) == 1 else u("lib")
    expected = {
        u("bin/qlaster-sender"), u("bin/qlaster-inspect"),
        u("include/qlaster/consumer.hpp"), u("include/qlaster/consumer.h"),
        u("include/qlaster/ingest.h"), u("include/qlaster/types.hpp"),
        u("include/qlaster/subscription.hpp"),
        lib + "/libqlaster-consumer.a", lib + "/libqlaster-consumer.so",
        lib + "/libqlaster-consumer.so.0", lib + "/libqlaster-consumer.so.0.1.0",
        lib + "/pkgconfig/qlaster-consumer.pc",
        lib + "/cmake/qlaster/qlasterConfig.cmake",
        lib + "/cmake/qlaster/qlasterConfigVersion.cmake",
        lib + "/cmake/qlaster/qlasterTargets.cmake",
        u("lib/systemd/system/qlaster-sender.service"), u("lib/sysusers.d/qlaster.conf"),
        os.path.join(etc, "qlaster/sender.flags"),
        u("share/doc/qlaster/README.md"), u("share/doc/qlaster/ARCHITECTURE.md"),
    }
    targets = {f for f in files
               if re.fullmatch(re.escape(lib) + r"/cmake/qlaster/qlasterTargets-\w+\.cmake", f)}
    expected |= targets or {lib + "/cmake/qlaster/qlasterTargets-CONFIG.cmake"}
    if u("bin/qlaster-bench") in files:
        expected.add(u("bin/qlaster-bench"))
    for name in ("relay", "grpc"):
        if u("bin/qlaster-" + name) in files:
            expected |= {u("bin/qlaster-" + name),
                         u("lib/systemd/system/qlaster-%s.service" % name),
                         os.path.join(etc, "qlaster/%s.flags" % name)}
    return expected - set(files), set(files) - expected
