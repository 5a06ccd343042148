# Prints "open" each time any process opens the file named by argv[1]
# (inotify IN_OPEN), after "ready". Used to prove a passive check opens nothing.
import ctypes, os, struct, sys

IN_OPEN = 0x20
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
if fd < 0 or libc.inotify_add_watch(fd, os.fsencode(sys.argv[1]), IN_OPEN) < 0:
    print("inotify failed: errno %d" % ctypes.get_errno(), file=sys.stderr)
    sys.exit(1)
print("ready", flush=True)
while True:
    data = os.read(fd, 4096)
    offset = 0
    while offset < len(data):
        _wd, _mask, _cookie, length = struct.unpack_from("iIII", data, offset)
        offset += 16 + length
        print("open", flush=True)
