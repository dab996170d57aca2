"""What the loopback stand-ins the Swift tests start have in common (the recording SMS gateway,
the Alibaba Cloud SMS stand-in)."""
import os
import signal
import threading
import time


def end_with_parent():
    """The test binary starts this with SIGTERM blocked (a mask children inherit), so its
    terminate() would not end it, and it may exit without trying: take SIGTERM back, and leave
    when the parent is gone."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
