import koffi, { type KoffiFunc } from "koffi";

/**
 * A Windows job object holding one supervised child and every process it
 * starts (Windows has no process groups; a process started by a process in
 * a job joins the job). Ending the job ends the whole tree at once.
 */
interface Kernel32 {
  createJob: KoffiFunc<(attributes: null, name: null) => unknown>;
  openProcess: KoffiFunc<(access: number, inherit: number, pid: number) => unknown>;
  assign: KoffiFunc<(job: unknown, process: unknown) => number>;
  terminateJob: KoffiFunc<(job: unknown, exitCode: number) => number>;
  closeHandle: KoffiFunc<(handle: unknown) => number>;
  getLastError: KoffiFunc<() => number>;
}
let kernel32: Kernel32 | undefined;

function bind(): Kernel32 {
  if (kernel32) return kernel32;
  const lib = koffi.load("kernel32.dll");
  const handle = koffi.pointer("JOB_HANDLE", koffi.opaque());
  kernel32 = {
    createJob: lib.func("__stdcall", "CreateJobObjectW", handle, ["void *", "void *"]) as Kernel32["createJob"],
    openProcess: lib.func("__stdcall", "OpenProcess", handle, ["uint32_t", "int", "uint32_t"]) as Kernel32["openProcess"],
    assign: lib.func("__stdcall", "AssignProcessToJobObject", "int", [handle, handle]) as Kernel32["assign"],
    terminateJob: lib.func("__stdcall", "TerminateJobObject", "int", [handle, "uint32_t"]) as Kernel32["terminateJob"],
    closeHandle: lib.func("__stdcall", "CloseHandle", "int", [handle]) as Kernel32["closeHandle"],
    getLastError: lib.func("__stdcall", "GetLastError", "uint32_t", []) as Kernel32["getLastError"],
  };
  return kernel32;
}

const PROCESS_SET_QUOTA = 0x0100;
const PROCESS_TERMINATE = 0x0001;

export class WindowsJob {
  private constructor(private job: unknown) {}

  /** Puts process `pid` (just started, before it can start others) in a new job. */
  static adopt(pid: number): WindowsJob {
    const k = bind();
    const job = k.createJob(null, null);
    if (!job) throw new Error(`CreateJobObjectW failed (Windows error ${k.getLastError()})`);
    const process = k.openProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, 0, pid);
    if (!process) {
      const code = k.getLastError();
      k.closeHandle(job);
      throw new Error(`OpenProcess(${pid}) failed (Windows error ${code})`);
    }
    const assigned = k.assign(job, process);
    const code = assigned ? 0 : k.getLastError();
    k.closeHandle(process);
    if (!assigned) {
      k.closeHandle(job);
      throw new Error(`AssignProcessToJobObject(${pid}) failed (Windows error ${code})`);
    }
    return new WindowsJob(job);
  }

  /** Ends every process of the job (TerminateProcess on each: no goodbye). */
  terminate(exitCode = 1): void {
    if (this.job) bind().terminateJob(this.job, exitCode);
  }

  close(): void {
    if (!this.job) return;
    bind().closeHandle(this.job);
    this.job = undefined;
  }
}
