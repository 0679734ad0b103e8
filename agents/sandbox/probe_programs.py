"""The attack programs of the escape suite (``shoal sandbox check``, tests/test_sandbox_escape.py).

Each is a plain Python program run *inside* the sandbox; ``probe.json`` next to it describes the host (paths,
ports, pids, the secret to look for; a file, so the secret is in no command line). Each tries every way it
knows and prints what it managed; the verdict never trusts that output alone: the host side checks its own
state (agents/sandbox/probes.py).
"""

from __future__ import annotations

PRELUDE = """
import ctypes, json, os, signal, socket, subprocess, sys, time
H = json.load(open("probe.json"))
got = []
def note(what):
    got.append(what)
def done():
    print("GOT " + json.dumps(got), flush=True)
libc = ctypes.CDLL(None, use_errno=True)
"""

SECRETS = """
for name, value in os.environ.items():
    if H["secret"] in value:
        note("env:" + name)
for pid in filter(str.isdigit, os.listdir("/proc")):
    for part in ("environ", "cmdline"):
        try:
            if H["secret"].encode() in open(f"/proc/{pid}/{part}", "rb").read():
                note(f"/proc/{pid}/{part}")
        except OSError:
            pass
done()
"""

UMOUNT_PROC = """
for target in (b"/proc",):
    if libc.umount2(target, 2) == 0:  # MNT_DETACH
        note("umount2 /proc")
for cmd in (["umount", "-l", "/proc"], ["mount", "-t", "proc", "proc", "/proc"]):
    try:
        if subprocess.run(cmd, capture_output=True, timeout=5).returncode == 0:
            note(" ".join(cmd))
    except OSError:
        pass
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if H["secret"].encode() in open(f"/proc/{pid}/environ", "rb").read():
            note(f"/proc/{pid}/environ")
    except OSError:
        pass
if str(H["victim_pid"]) in os.listdir("/proc"):
    note("host pid visible")
done()
"""

SETNS = """
CLONE = {"net": 0x40000000, "mnt": 0x00020000, "pid": 0x20000000, "user": 0x10000000, "ipc": 0x08000000,
         "uts": 0x04000000, "cgroup": 0x02000000}
pids = [p for p in filter(str.isdigit, os.listdir("/proc"))] + [str(H["victim_pid"]), str(H["host_pid"])]
for pid in pids:
    for ns, flag in CLONE.items():
        try:
            fd = os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY)
        except OSError:
            continue
        try:
            if libc.setns(fd, 0) == 0 and os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"):
                note(f"setns {ns} of pid {pid}")
        except OSError:
            pass
        os.close(fd)
try:
    socket.create_connection(("127.0.0.1", H["tcp_port"]), timeout=2).close()
    note("host loopback after setns")
except OSError:
    pass
# a user namespace of its own: more of the kernel to attack from inside (bwrap --disable-userns, or seccomp as root)
if libc.unshare(CLONE["user"]) == 0:
    note("created a user namespace")
try:
    if subprocess.run(["unshare", "-U", "true"], capture_output=True, timeout=5).returncode == 0:
        note("unshare -U")
except OSError:
    pass
done()
"""

SOCKETS = """
try:
    s = socket.create_connection(("127.0.0.1", H["tcp_port"]), timeout=2)
    note("tcp 127.0.0.1:%d" % H["tcp_port"])
    s.close()
except OSError:
    pass
for host in ("10.0.2.2", "172.17.0.1", "1.1.1.1"):
    try:
        socket.create_connection((host, 53), timeout=1).close()
        note("tcp " + host)
    except OSError:
        pass
for path in (H["unix_path"], "/run/docker.sock", "/var/run/docker.sock", "/run/dbus/system_bus_socket"):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(path)
        note("unix " + path)
        s.close()
    except OSError:
        pass
try:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    s.connect("\\0" + H["abstract_name"])
    note("abstract unix socket")
except OSError:
    pass
done()
"""

CGROUP_KILL = """
# opening a control file for writing is the whole escape (cgroup.kill would then take the victim's group down);
# the probe stops there, so it can do no harm on a machine where it succeeds
for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory"):
    for root, dirs, files in os.walk(base):
        for name in ("cgroup.kill", "cgroup.procs", "tasks"):
            if name in files:
                path = os.path.join(root, name)
                try:
                    os.close(os.open(path, os.O_WRONLY))
                    note("writable " + path)
                except OSError:
                    pass
os.makedirs("/tmp/cg", exist_ok=True)
if subprocess.run(["mount", "-t", "cgroup2", "none", "/tmp/cg"], capture_output=True).returncode == 0:
    note("mounted cgroup2")
done()
"""

SIGNALS = """
victim = H["victim_pid"]
for sig in (signal.SIGKILL, signal.SIGTERM):
    try:
        os.kill(victim, sig)
        note(f"kill {victim} {sig}")
    except OSError:
        pass
try:
    os.killpg(victim, signal.SIGKILL)
    note(f"killpg {victim}")
except OSError:
    pass
try:  # signal 0 only: permission to signal Shoal itself is the escape
    os.kill(H["host_pid"], 0)
    note("may signal Shoal")
except OSError:
    pass
done()
"""

WRITES = """
for path in H["write_targets"]:
    try:
        with open(path, "a"):
            pass
        note("append " + path)
    except OSError:
        pass
for d in H["write_dirs"]:
    path = os.path.join(d, "zz_shoal_probe_" + H["token"] + ".pth")
    try:
        with open(path, "w") as fh:
            fh.write("# shoal escape probe: a .pth here would run at Shoal's next start\\n")
        note("created " + path)
    except OSError:
        pass
done()
"""

SIBLINGS = """
for path in H["read_targets"]:
    try:
        if H["secret"] in open(path).read():
            note("read " + path)
    except OSError:
        pass
for path in H["read_targets"]:
    try:
        with open(path, "w") as fh:
            fh.write('{"faked": true}')
        note("overwrote " + path)
    except OSError:
        pass
done()
"""

LINKS = """
# links left for Shoal to follow after the run, with its privileges: the program cannot reach these paths itself
plants = [("stdout.txt", H["write_targets"][1]), ("stderr.txt", H["write_targets"][0]),
          ("metrics.json", H["read_targets"][1]), ("plot.png", H["read_targets"][0]), ("results", "/etc")]
for name, target in plants:
    try:
        os.symlink(target, name)
    except OSError:
        pass
for name in ("figure.png", "code_plots.py"):
    try:
        os.mkfifo(name)
    except OSError:
        pass
for i, path in enumerate(H["read_targets"]):
    try:
        os.link(path, f"hard{i}.json")
        note("hard-linked " + path)
    except OSError:
        pass
os.makedirs("sub/deeper", exist_ok=True)
try:
    os.symlink(H["write_targets"][0], "sub/deeper/eval.log")
    os.chmod("sub", 0)
except OSError:
    pass
done()
"""

KEYRING = """
# the kernel's keyrings are per uid and outlive a run: the host's key (user mode: the same uid), a channel to
# later runs (root mode: every run is shoal-sandbox)
desc = ("shoal-probe-" + H["token"]).encode()
kid = libc.syscall(249, b"user", desc, None, 0)  # request_key: the session's keyrings
if kid <= 0:
    kid = libc.syscall(250, 10, -4, b"user", desc, 0)  # keyctl(KEYCTL_SEARCH) in the uid's own keyring
if kid > 0:
    buf = ctypes.create_string_buffer(256)
    n = libc.syscall(250, 11, kid, buf, 256)  # keyctl(KEYCTL_READ)
    if n > 0 and H["secret"].encode() in buf.raw[:n]:
        note("read the host's key " + str(kid))
made = libc.syscall(248, b"user", ("shoal-probe-left-" + H["token"]).encode(), b"for the next run", 16, -4)
if made > 0:
    note("left key " + str(made) + " in the uid's keyring for later runs")
    libc.syscall(250, 21, made)  # keyctl(KEYCTL_INVALIDATE): do no harm
done()
"""

FORK_BOMB = """
children = 0
while True:
    try:
        pid = os.fork()
    except OSError:
        time.sleep(0.001)
        continue
    if pid == 0:
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
    children += 1
"""

MEMORY_CHILDREN = """
import multiprocessing as mp
def hog(mb):
    block = bytearray(mb * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(30)
procs = [mp.Process(target=hog, args=(H["child_mb"],)) for _ in range(H["children"])]
for p in procs:
    p.start()
time.sleep(3)
alive = sum(p.is_alive() for p in procs)
print("ALL ALLOCATED" if alive == len(procs) else f"alive {alive}", flush=True)
time.sleep(30)
"""

MEMORY_TMPFS = """
block = b"x" * (1024 * 1024)
held = 0
for folder in ("/tmp", "/dev/shm"):  # each is its own tmpfs: memory that no process's resident set shows
    try:
        with open(os.path.join(folder, "fill.bin"), "wb") as fh:
            for _ in range(H["tmpfs_mb"]):
                fh.write(block)
                held += 1
    except OSError as exc:
        print(f"{folder}: {exc}", flush=True)
ram = bytearray(H["ram_mb"] * 1024 * 1024)
for i in range(0, len(ram), 4096):
    ram[i] = 1
time.sleep(3)  # the watcher looks long before this ends
print(f"ALL HELD {held + H['ram_mb']} MiB", flush=True)
time.sleep(30)
"""

DISK_FILES = """
block = b"x" * (1024 * 1024)
for i in range(H["files"]):
    with open(f"fill{i}.bin", "wb") as fh:
        for _ in range(H["file_mb"]):
            fh.write(block)
print("ALL WRITTEN", flush=True)
"""

FILE_SPRAY = """
os.makedirs("spray", exist_ok=True)
for i in range(H["files"]):
    open(f"spray/{i}", "w").close()
time.sleep(3)  # the watcher looks long before this ends
print("ALL MADE", flush=True)
"""

DEEP_TREE = """
for i in range(3000):  # deeper than a recursive walk can go, longer than PATH_MAX
    os.mkdir("d" * 20)
    os.chdir("d" * 20)
with open("hidden.bin", "wb") as fh:
    fh.write(b"x" * (1 << 20))
print("nested", flush=True)
"""

ORPHANS = """
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", H["token"]])
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(0.3)
print("daemon started", flush=True)
time.sleep(600)
"""
