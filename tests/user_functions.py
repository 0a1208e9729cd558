"""The user code the own-code tests measure: copied into a temporary directory as a module
of the user's, so that workers import it the way they import a real user's module."""

import threading, time

def double(x):
    return 2 * x

def tasks():
    return [(i,) for i in range(8)]

def empty():
    return []

def number():
    return 42

def none():
    return None

def locks():
    return [(threading.Lock(),) for _ in range(4)]

def lock_name(lock):
    return type(lock).__name__

def fails_on_three(x):
    if x == 3:
        raise ValueError("bad task 3")
    return x

def boom(x):
    raise ValueError(f"no :boom: [bold]here[/bold] for {x}")

def hangs(x):
    while True:
        time.sleep(0.05)

def hangs_off_main(x):
    while threading.current_thread() is not threading.main_thread():
        time.sleep(0.05)
    return x

current = None

def unsafe(x):
    global current
    current = x
    time.sleep(0.002)
    return current

class Opaque:
    def __init__(self, x):
        self.x = x

def opaque(x):
    return Opaque(x)

def same_x(a, b):
    return a.x == b.x

NOT_CALLABLE = 3

# --stress: a deliberate race, and two safe twins of it. racy_sum keeps its running total in
# module-level state, read, added to and written back with no lock: two threads that overlap
# reset and overwrite each other's total, so the result depends on the interleaving.
running = 0

def racy_sum(n):
    global running
    running = 0
    for i in range(n):
        value = running
        value += i
        running = value
    return running

guarded = 0
guard = threading.Lock()

def locked_sum(n):
    global guarded
    with guard:
        guarded = 0
        for i in range(n):
            value = guarded
            value += i
            guarded = value
        return guarded

def pure_sum(n):
    total = 0
    for i in range(n):
        total += i
    return total

def sum_tasks():
    return [(20_000,)] * 16
