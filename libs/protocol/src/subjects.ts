/**
 * Every NATS subject of the system, in one place. Nothing outside this file
 * spells a subject literal.
 *
 * Naming: `gently.<domain>.<verb>` for request/reply, `gently.<domain>.<event>`
 * for announcements. Tokens that are ids come last so wildcards can select them.
 */
export const ROOT = "gently";

export const subjects = {
  /** hardware service API: the plan runner is its only client */
  hw: {
    all: "gently.hw.>",
    state: "gently.hw.state",
    move: "gently.hw.move",
    setPreset: "gently.hw.preset",
    setCamera: "gently.hw.camera",
    snap: "gently.hw.snap",
    startSequence: "gently.hw.sequence.start",
    stopSequence: "gently.hw.sequence.stop",
    /** the acquisition's owner proves it is alive; silence trips the lasers-off watchdog */
    keepalive: "gently.hw.keepalive",
    /** set laser line powers (percent, capped by limits) and read them back */
    laserPower: "gently.hw.laser.power",
    /** live view: previews only, no file; stopped with sequence.stop */
    startLive: "gently.hw.live.start",
  },
  /** what the devices are doing, for anyone watching (the hardware publishes; nobody commands here) */
  device: {
    all: "gently.device.>",
    /** read-back positions, presets, activity: every 250 ms and on change */
    state: "gently.device.state",
    /** reduced camera frames (≤ 512 px, ≤ 10/s per camera) during sequences, snaps and live view */
    preview: "gently.device.preview",
  },
  /** frame descriptors (pixels stay in shared memory); only the hardware service publishes here */
  frames: {
    all: "gently.frames.>",
    /** request to the writer: open a sink for this acquisition before the first frame */
    begin: (acq: string) => `gently.frames.${acq}.begin`,
    frame: (acq: string) => `gently.frames.${acq}`,
    end: (acq: string) => `gently.frames.${acq}.end`,
    beginAll: "gently.frames.*.begin",
    frameAll: "gently.frames.*",
    endAll: "gently.frames.*.end",
  },
  /** durable announcements of data on disk (JetStream stream DATA) */
  volume: {
    all: "gently.volume.>",
    written: "gently.volume.written",
    failed: "gently.volume.failed",
  },
  derived: {
    all: "gently.derived.>",
    /** a derived item (detections, label mask, MIP, calibration) was written */
    written: "gently.derived.written",
  },
  plan: {
    submit: "gently.plan.submit",
    tools: "gently.plan.tools",
    pause: "gently.plan.pause",
    resume: "gently.plan.resume",
    abort: "gently.plan.abort",
    stop: "gently.plan.stop",
    queue: "gently.plan.queue",
    queueMove: "gently.plan.queue.move",
    queueRemove: "gently.plan.queue.remove",
    history: "gently.plan.history",
    status: "gently.plan.status",
    documents: "gently.plan.documents",
  },
  /** Bluesky event-model documents of a run (JetStream stream RUNS) */
  run: {
    all: "gently.run.>",
    doc: (run: string, kind: string) => `gently.run.${run}.doc.${kind}`,
    docs: (run: string) => `gently.run.${run}.doc.*`,
    progress: (run: string) => `gently.run.${run}.progress`,
    allProgress: "gently.run.*.progress",
  },
  datastore: {
    get: "gently.datastore.get",
    list: "gently.datastore.list",
    lineage: "gently.datastore.lineage",
    children: "gently.datastore.children",
    sessions: "gently.datastore.sessions",
    register: "gently.datastore.register",
  },
  sam: {
    detect: "gently.sam.detect",
    status: "gently.sam.status",
  },
  viz: {
    status: "gently.viz.status",
  },
} as const;

/** JetStream streams owned by the system. Created idempotently by the services that publish into them. */
export const streams = {
  /** volume.written / volume.failed / derived.written: durable, deduplicated by uid */
  data: { name: "GENTLY_DATA", subjects: [subjects.volume.all, subjects.derived.all] },
  /** run documents, replayable by late clients */
  runs: { name: "GENTLY_RUNS", subjects: [subjects.run.all] },
} as const;

/** JetStream key-value buckets. */
export const buckets = {
  /** exclusive ownership leases (the hardware service's hold on the microscope) */
  leases: "gently_leases",
  /** the plan runner's queued runs, in order, so they survive its restart */
  planQueue: "gently_plan_queue",
} as const;
