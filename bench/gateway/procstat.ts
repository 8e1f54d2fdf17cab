/**
 * CPU time and resident memory of other processes, from /proc: the gateways under test run as
 * their own processes (nginx, Portkey, Sluice), so `process.cpuUsage()` cannot see them.
 */
import { readdirSync, readFileSync } from 'node:fs';

// USER_HZ: the unit of utime/stime in /proc/<pid>/stat. 100 on every Linux this runs on
// (`getconf CLK_TCK`); Node has no API for sysconf, so it is a constant.
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time of every thread of `pid`, in milliseconds; undefined once it has exited. From the
 * scheduler's own nanosecond count (/proc/<pid>/task/<tid>/schedstat) where the kernel keeps
 * one: utime and stime are sampled at the clock tick, and a process woken by timers (every
 * paced stream) tends to be running exactly when the tick samples, which bills it several
 * times its real CPU at low load.
 */
export function cpuMs(pid: number): number | undefined {
  return schedulerCpuMs(pid) ?? tickCpuMs(pid);
}

function schedulerCpuMs(pid: number): number | undefined {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let nanoseconds = 0;
  for (const tid of threads) {
    const schedstat = readProc(`/proc/${pid}/task/${tid}/schedstat`);
    // A thread that exited between the listing and the read has nothing more to add.
    if (schedstat === undefined) continue;
    const onCpu = Number(schedstat.split(' ')[0]);
    if (!Number.isFinite(onCpu)) return undefined;
    nanoseconds += onCpu;
  }
  return threads.length > 0 ? nanoseconds / 1e6 : undefined;
}

function tickCpuMs(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may contain spaces and parentheses: fields are counted after
  // its closing parenthesis, where field 3 (state) is the first.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size of `pid` in bytes (VmRSS); undefined once it has exited. */
export function rssBytes(pid: number): number | undefined {
  const status = readProc(`/proc/${pid}/status`);
  const kb = status === undefined ? undefined : /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

/** Summed over processes (a gateway may be more than one); a process that exited counts 0. */
export function totalCpuMs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (cpuMs(pid) ?? 0), 0);
}

export function totalRssBytes(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (rssBytes(pid) ?? 0), 0);
}

/** The direct children of `pid` (nginx's workers under its master). */
export function childPids(pid: number): number[] {
  const listed = readProc(`/proc/${pid}/task/${pid}/children`);
  if (listed !== undefined) return listed.split(' ').filter(Boolean).map(Number);
  // Kernels without CONFIG_PROC_CHILDREN: scan every process's parent.
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((candidate) => {
      const stat = readProc(`/proc/${candidate}/stat`);
      return stat !== undefined && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
    });
}

/** Samples the summed RSS of `pids` every `everyMs` while running, keeping the highest. */
export class PeakSampler {
  peak = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly pids: readonly number[];

  constructor(pids: readonly number[], everyMs = 100) {
    this.pids = pids;
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  /** Stops sampling and returns the peak, with one last sample taken now. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }

  private sample(): void {
    this.peak = Math.max(this.peak, totalRssBytes(this.pids));
  }
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
