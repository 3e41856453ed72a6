"""A `harness env` or `harness serve` process spoken to in JSON lines (one request, one reply), shared
by the comparison scripts of this folder."""
import json
import shlex
import subprocess


class HarnessLines:
    """The subprocess `cmd` (a harness command line); ask() sends one request and returns its reply."""

    def __init__(self, cmd):
        self.cmd = " ".join(shlex.quote(c) for c in cmd)
        self.verb = cmd[1] if len(cmd) > 1 else cmd[0]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, bufsize=1)
        self.n = 0

    def ask(self, cmd, **fields):
        """A command request ({"cmd": ...}: env's commands, serve's "spec")."""
        return self.request(cmd=cmd, **fields)

    def request(self, **fields):
        """Any request (serve's observation requests carry no "cmd"); an error reply raises."""
        self.n += 1
        self.p.stdin.write(json.dumps({"id": self.n, **fields}) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"harness {self.verb} ended without a reply: {self.cmd}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"harness {self.verb}: {fields.get('cmd', 'request')}: {reply['error']}")
        return reply

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)
