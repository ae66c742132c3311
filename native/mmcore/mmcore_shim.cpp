// mmcore_shim.cpp — the gently_core.h C ABI over Micro-Manager's CMMCore.
//
// Built only when MMCORE_DIR is set (see README.md). One CMMCore per gc_core.
// Every extern "C" entry point runs its body through guard(), which takes the
// per-core mutex and turns CMMError / std::exception / anything else into a
// GC_E_* code plus a message for gc_last_error() (per thread). No exception
// escapes. Waits on devices (moves, gc_wait_for_device, a snap's exposure,
// gc_pop_next's polling) run without the mutex.

// Built with -fvisibility=hidden: only the ABI declared here is exported.
#pragma GCC visibility push(default)
#include "gently_core.h"
#pragma GCC visibility pop

#include "MMCore.h"
#include "ImageMetadata.h" // MMCore/ in MMCore 12, MMDevice/ before

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

// ---------------------------------------------------------------------------
// Errors

// An error with a GC_E_* code, thrown inside the shim and caught by guard().
struct GcError : std::runtime_error {
  int code;
  GcError(int c, const std::string &msg) : std::runtime_error(msg), code(c) {}
};

[[noreturn]] void fail(int code, const std::string &msg) { throw GcError(code, msg); }

int codeForMMError(const CMMError &e) {
  switch (e.getCode()) {
  case MMERR_InvalidLabel:
  case MMERR_InvalidSpecificDevice:
  case MMERR_InvalidStageDevice:
  case MMERR_InvalidXYStageDevice:
  case MMERR_InvalidShutterDevice:
  case MMERR_InvalidStateDevice:
  case MMERR_NoConfigGroup:
  case MMERR_NoConfiguration:
  case MMERR_InvalidConfigurationIndex:
  case MMERR_BadConfigName:
  case MMERR_InvalidCoreProperty:
  case MMERR_InvalidCoreValue:
  case MMERR_NullPointerException:
    return GC_E_ARGUMENT;
  case MMERR_NotAllowedDuringSequenceAcquisition:
    return GC_E_BUSY;
  default:
    return GC_E_DEVICE;
  }
}

// Copy text into a caller buffer, NUL-terminated and truncated to cap.
void copyText(const std::string &s, char *out, size_t cap) {
  if (!out || cap == 0) return;
  size_t n = std::min(s.size(), cap - 1);
  std::memcpy(out, s.data(), n);
  out[n] = '\0';
}

// Text results: GC_E_BUFFER when the text did not fit (it is still written,
// truncated, so the caller can see what it got).
int putText(const std::string &s, char *out, size_t cap) {
  if (!out || cap == 0) fail(GC_E_ARGUMENT, "output buffer is NULL or empty");
  copyText(s, out, cap);
  if (s.size() + 1 > cap)
    fail(GC_E_BUFFER, "result needs " + std::to_string(s.size() + 1) + " bytes, buffer has " +
                          std::to_string(cap));
  return GC_OK;
}

// ---------------------------------------------------------------------------
// JSON helpers (only strings and string arrays are ever produced)

std::string jsonString(const std::string &s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
    case '"': o += "\\\""; break;
    case '\\': o += "\\\\"; break;
    case '\n': o += "\\n"; break;
    case '\r': o += "\\r"; break;
    case '\t': o += "\\t"; break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        o += buf;
      } else {
        o += static_cast<char>(c);
      }
    }
  }
  return o + "\"";
}

std::string jsonArray(const std::vector<std::string> &v) {
  std::string o = "[";
  for (size_t i = 0; i < v.size(); ++i) o += (i ? "," : "") + jsonString(v[i]);
  return o + "]";
}

// GENTLY_MM_ADAPTER_PATH is a list like PATH: ';'-separated on Windows (C:\... has a colon).
#ifdef _WIN32
constexpr char PATH_LIST_SEPARATOR = ';';
#else
constexpr char PATH_LIST_SEPARATOR = ':';
#endif

std::vector<std::string> splitList(const std::string &s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) {
    size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

const char *envOrNull(const char *name) {
  const char *v = std::getenv(name);
  return (v && *v) ? v : nullptr;
}

uint64_t nowUs() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// MMCore stamps sequence frames with "TimeReceivedByCore" as local time
// "yyyy-mm-dd hh:mm:ss.uuuuuu". Returns 0 when absent or unparsable.
uint64_t parseCoreTime(const std::string &s) {
  std::tm tm{};
  int us = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%d %d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us) < 6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return 0;
  return static_cast<uint64_t>(t) * 1000000ull + static_cast<uint64_t>(us);
}

std::string tagOr(Metadata &md, const char *key, const std::string &dflt) {
  if (!md.HasTag(key)) return dflt;
  try {
    return md.GetSingleTag(key).GetValue();
  } catch (...) {
    return dflt;
  }
}

} // namespace

// ---------------------------------------------------------------------------
// The core handle

struct gc_core {
  CMMCore mm;
  std::mutex mu;
  std::mutex errorMu; // lastError only: failures are recorded with or without mu
  std::string lastError;

  // Sheet devices used for sweeps and frame metadata (may be empty).
  std::string piezo, scanner;
  bool asiSpim = false; // scanner (and piezo) are ASI Tiger devices with SPIM properties
  bool snapping = false; // a gc_snap exposes with the mutex released

  // The running (or last) sequence.
  struct Seq {
    bool active = false;                    // started and not yet reported drained
    bool stopped = false;                   // gc_stop_sequence was called
    bool overflowReported = false;
    uint32_t count = 0;                     // frames per camera
    std::vector<std::string> runLabels;     // labels startSequenceAcquisition was called on
    std::vector<std::string> cameras;       // physical cameras delivering frames
    std::map<std::string, uint64_t> next;   // next expected ImageNumber per camera
    std::map<std::string, uint64_t> popped; // own counter per camera (fallback for seq)
    bool hasSweep = false;
    gc_sweep sweep{};
    bool asiArmed = false;
    double piezo_um = 0, galvo_deg = 0, x_um = 0, y_um = 0; // positions at start
  } seq;
};

namespace {

// Each thread's last failure (gently_core.h, "Threads"): the message of a
// call is read by the thread that made it, whatever others did meanwhile.
thread_local std::string threadError;
thread_local const gc_core *threadErrorCore = nullptr;

// Keeps a failure's message for gc_last_error(): the calling thread's and the core's.
int failed(gc_core *core, int code, const std::string &message) {
  threadError = message;
  threadErrorCore = core;
  std::lock_guard<std::mutex> lock(core->errorMu);
  core->lastError = message;
  return code;
}

// Runs f(); every exception becomes a GC_E_* code with its message kept for
// gc_last_error(). The caller holds whatever lock f needs.
template <class F> int run(gc_core *core, F &&f) {
  threadErrorCore = nullptr;
  try {
    return f();
  } catch (const GcError &e) {
    return failed(core, e.code, e.what());
  } catch (const CMMError &e) {
    return failed(core, codeForMMError(e), e.getFullMsg());
  } catch (const std::exception &e) {
    return failed(core, GC_E_DEVICE, std::string("exception: ") + e.what());
  } catch (...) {
    return failed(core, GC_E_DEVICE, "unknown exception in MMCore");
  }
}

// Runs f() under the core's mutex (the shim's own state).
template <class F> int guard(gc_core *core, F &&f) {
  if (!core) return GC_E_ARGUMENT;
  std::lock_guard<std::mutex> lock(core->mu);
  return run(core, f);
}

// Waits for a device without the core's mutex: a stage that takes seconds
// must not hold up state reads or a sequence stop (MMCore locks per device).
int waitUnlocked(gc_core *core, const char *device) {
  return run(core, [&] {
    core->mm.waitForDevice(device);
    return GC_OK;
  });
}

const char *typeName(MM::DeviceType t) {
  switch (t) {
  case MM::CameraDevice: return "a camera";
  case MM::XYStageDevice: return "an XY stage";
  case MM::StageDevice: return "a stage";
  case MM::GalvoDevice: return "a scanner (galvo)";
  default: return "a device";
  }
}

// Fails with GC_E_ARGUMENT unless `label` is a loaded device of type t
// (MM::AnyType accepts any device).
void requireDevice(gc_core *c, const char *label, MM::DeviceType t) {
  if (!label || !*label) fail(GC_E_ARGUMENT, "device name is NULL or empty");
  std::vector<std::string> all = c->mm.getLoadedDevices();
  if (std::find(all.begin(), all.end(), label) == all.end())
    fail(GC_E_ARGUMENT, std::string("no device named \"") + label + "\"");
  if (t != MM::AnyType && c->mm.getDeviceType(label) != t)
    fail(GC_E_ARGUMENT, std::string("\"") + label + "\" is not " + typeName(t));
}

void requireArg(const void *p, const char *what) {
  if (!p) fail(GC_E_ARGUMENT, std::string(what) + " is NULL");
}

bool isAsiSpimDevice(gc_core *c, const std::string &label) {
  try {
    return c->mm.getDeviceLibrary(label.c_str()) == "ASITiger" &&
           c->mm.hasProperty(label.c_str(), "SPIMNumSlices");
  } catch (...) {
    return false;
  }
}

// Picks the devices whose positions go into frame metadata and that a sweep
// drives: env GENTLY_MM_SHEET_PIEZO / GENTLY_MM_SHEET_SCANNER, else the first
// ASI Tiger SPIM-capable piezo/scanner, else the core's focus stage / the
// first scanner.
void pickSheetDevices(gc_core *c) {
  std::vector<std::string> stages = c->mm.getLoadedDevicesOfType(MM::StageDevice);
  std::vector<std::string> galvos = c->mm.getLoadedDevicesOfType(MM::GalvoDevice);
  auto pick = [&](const char *env, const std::vector<std::string> &devs,
                  const std::string &fallback) -> std::string {
    if (const char *v = envOrNull(env)) {
      if (std::find(devs.begin(), devs.end(), v) == devs.end())
        fail(GC_E_ARGUMENT, std::string(env) + "=" + v + " is not a loaded device of that type");
      return v;
    }
    for (const auto &d : devs)
      if (isAsiSpimDevice(c, d)) return d;
    if (!fallback.empty()) return fallback;
    return devs.empty() ? std::string() : devs.front();
  };
  c->piezo = pick("GENTLY_MM_SHEET_PIEZO", stages, c->mm.getFocusDevice());
  c->scanner = pick("GENTLY_MM_SHEET_SCANNER", galvos, "");
  c->asiSpim = !c->scanner.empty() && isAsiSpimDevice(c, c->scanner);
}

// Current positions of the sheet devices and the XY stage (0 when absent).
void readPositions(gc_core *c, double &piezo, double &galvo, double &x, double &y) {
  piezo = galvo = x = y = 0;
  if (!c->piezo.empty()) piezo = c->mm.getPosition(c->piezo.c_str());
  if (!c->scanner.empty()) {
    double a = 0;
    c->mm.getGalvoPosition(c->scanner.c_str(), a, galvo); // B axis = slice axis
  }
  std::string xy = c->mm.getXYStageDevice();
  if (!xy.empty()) c->mm.getXYPosition(xy.c_str(), x, y);
}

int cameraIndex(gc_core *c, const std::string &label) {
  std::vector<std::string> cams = c->mm.getLoadedDevicesOfType(MM::CameraDevice);
  auto it = std::find(cams.begin(), cams.end(), label);
  return it == cams.end() ? -1 : static_cast<int>(it - cams.begin());
}

// A loaded Utilities "Multi Camera" whose physical cameras are exactly `cams`.
std::string findMultiCamera(gc_core *c, const std::vector<std::string> &cams) {
  for (const auto &d : c->mm.getLoadedDevicesOfType(MM::CameraDevice)) {
    if (c->mm.getDeviceLibrary(d.c_str()) != "Utilities") continue;
    std::vector<std::string> phys;
    for (int i = 1; i <= 8; ++i) {
      std::string p = "Physical Camera " + std::to_string(i);
      if (!c->mm.hasProperty(d.c_str(), p.c_str())) break;
      std::string v = c->mm.getProperty(d.c_str(), p.c_str());
      if (!v.empty() && v != "Undefined") phys.push_back(v);
    }
    std::vector<std::string> a = phys, b = cams;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (!a.empty() && a == b) return d;
  }
  return "";
}

bool anyRunning(gc_core *c) {
  for (const auto &l : c->seq.runLabels)
    if (c->mm.isSequenceRunning(l.c_str())) return true;
  return false;
}

void setProp(gc_core *c, const std::string &dev, const char *prop, double v) {
  c->mm.setProperty(dev.c_str(), prop, v);
}

// ASI Tiger: program the controller's SPIM state machine for one side, the
// way Micro-Manager's diSPIM plugin does for a piezo/slice scan. Amplitudes
// are peak-to-peak over the sweep, offsets its centre. Trigger modes, PLogic
// and timing (SPIMDelay*, durations) are left to the .cfg.
void armAsiSweep(gc_core *c, const gc_sweep &s) {
  const double n1 = s.num_slices > 1 ? s.num_slices - 1 : 0;
  const std::string &sc = c->scanner;
  c->mm.setProperty(sc.c_str(), "SPIMNumSlices", static_cast<long>(s.num_slices));
  if (c->mm.hasProperty(sc.c_str(), "SPIMNumSides")) c->mm.setProperty(sc.c_str(), "SPIMNumSides", 1L);
  if (c->mm.hasProperty(sc.c_str(), "SPIMNumRepeats")) c->mm.setProperty(sc.c_str(), "SPIMNumRepeats", 1L);
  if (c->mm.hasProperty(sc.c_str(), "SPIMNumSlicesPerPiezo"))
    c->mm.setProperty(sc.c_str(), "SPIMNumSlicesPerPiezo", 1L);
  setProp(c, sc, "SingleAxisYAmplitude(deg)", s.galvo_step_deg * n1);
  setProp(c, sc, "SingleAxisYOffset(deg)", s.galvo_start_deg + s.galvo_step_deg * n1 / 2);
  if (!c->piezo.empty() && isAsiSpimDevice(c, c->piezo)) {
    const std::string &pz = c->piezo;
    c->mm.setProperty(pz.c_str(), "SPIMNumSlices", static_cast<long>(s.num_slices));
    setProp(c, pz, "SingleAxisAmplitude(um)", s.piezo_step_um * n1);
    setProp(c, pz, "SingleAxisOffset(um)", s.piezo_start_um + s.piezo_step_um * n1 / 2);
    c->mm.setProperty(pz.c_str(), "SPIMState", "Armed");
  }
}

void startAsiSweep(gc_core *c) { c->mm.setProperty(c->scanner.c_str(), "SPIMState", "Running"); }

void idleAsiSweep(gc_core *c) {
  try {
    c->mm.setProperty(c->scanner.c_str(), "SPIMState", "Idle");
    if (!c->piezo.empty() && isAsiSpimDevice(c, c->piezo))
      c->mm.setProperty(c->piezo.c_str(), "SPIMState", "Idle");
  } catch (...) {
    // best effort: the controller returns to Idle by itself after the sweep
  }
}

// Copy `bytes` core-owned bytes into the caller's buffer.
void copyFrame(const void *src, size_t bytes, void *buf, size_t cap) {
  if (!src) fail(GC_E_DEVICE, "core returned no image");
  if (bytes > cap)
    fail(GC_E_BUFFER, "frame needs " + std::to_string(bytes) + " bytes, buffer has " +
                          std::to_string(cap));
  std::memcpy(buf, src, bytes);
}

// Selects `camera` as the core camera and returns its frame geometry.
void cameraGeometry(gc_core *c, const char *camera, unsigned &w, unsigned &h, unsigned &bpp) {
  if (c->mm.getCameraDevice() != camera) c->mm.setCameraDevice(camera);
  w = c->mm.getImageWidth();
  h = c->mm.getImageHeight();
  bpp = c->mm.getBytesPerPixel();
}

// ---------------------------------------------------------------------------
// PixelSize_um of a camera: MMCore cameras have no such property, the core
// keeps the pixel size in its pixel-size calibration instead. The hardware
// service (like the simulator) treats PixelSize_um as the size of one
// unbinned pixel in the sample and multiplies by Binning itself.

const char *const kPixelSizeProp = "PixelSize_um";

bool isCamera(gc_core *c, const char *label) {
  return c->mm.getDeviceType(label) == MM::CameraDevice;
}

// True when `prop` is PixelSize_um of a camera that has no real property of
// that name, i.e. the value comes from the calibration.
bool isCalibratedPixelSize(gc_core *c, const char *device, const char *prop) {
  return std::strcmp(prop, kPixelSizeProp) == 0 && isCamera(c, device) &&
         !c->mm.hasProperty(device, prop);
}

// Shortest decimal text that reads back as exactly `v`.
std::string formatDouble(double v) {
  char buf[32];
  for (int prec = 6; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// The calibrated size of an unbinned pixel of `camera`: the current pixel
// size configuration with `camera` as the core camera (what
// getPixelSizeUm(true) uses), divided by the magnifiers' factor, as
// getPixelSizeUm does, but not multiplied by the camera's binning.
double calibratedPixelSizeUm(gc_core *c, const char *camera) {
  if (c->mm.getCameraDevice() != camera) {
    if (c->mm.isSequenceRunning())
      fail(GC_E_BUSY, std::string("a sequence is running: cannot make \"") + camera +
                          "\" the core camera to read its pixel size");
    c->mm.setCameraDevice(camera);
  }
  double um = 0;
  if (c->mm.getPixelSizeUm(true) > 0) {
    std::string id = c->mm.getCurrentPixelSizeConfig(true);
    if (!id.empty()) um = c->mm.getPixelSizeUmByID(id.c_str()) / c->mm.getMagnificationFactor();
  }
  if (!(um > 0))
    fail(GC_E_DEVICE,
         std::string("no pixel size for camera \"") + camera +
             "\": no pixel size configuration of the Micro-Manager config matches the current "
             "state. Define one in the .cfg (PixelSize_um,<name>,<um> and "
             "ConfigPixelSize,<name>,<device>,<property>,<value>, e.g. on Core,Camera,<camera> "
             "or the objective), or give the camera a PixelSize_um property");
  return um;
}

} // namespace

// ---------------------------------------------------------------------------
// The ABI

extern "C" {

int gc_abi_version(void) { return GC_ABI_VERSION; }

gc_core *gc_open(const char *config, char *err, size_t cap) {
  gc_core *core = nullptr;
  try {
    core = new gc_core();
    core->mm.enableStderrLog(envOrNull("GENTLY_MM_STDERR_LOG") != nullptr);
    if (const char *log = envOrNull("GENTLY_MM_LOG_FILE")) core->mm.setPrimaryLogFile(log);
    if (const char *paths = envOrNull("GENTLY_MM_ADAPTER_PATH"))
      core->mm.setDeviceAdapterSearchPaths(splitList(paths, PATH_LIST_SEPARATOR));
    if (config && *config) {
      try {
        core->mm.loadSystemConfiguration(config);
      } catch (const CMMError &e) {
        // A missing adapter is the usual cause: say where adapters were looked for and how to change it.
        const char *paths = envOrNull("GENTLY_MM_ADAPTER_PATH");
        fail(GC_E_DEVICE, std::string("config ") + config + ": " + e.getFullMsg() +
                              " (device adapters, libmmgr_dal_<Name>.so.0, are searched in " +
                              (paths ? std::string("GENTLY_MM_ADAPTER_PATH=") + paths
                                     : std::string("the folder of libgently_mmcore.so, as GENTLY_MM_ADAPTER_PATH is not set")) +
                              ")");
      }
      pickSheetDevices(core);
    }
    copyText("", err, cap);
    return core;
  } catch (const GcError &e) {
    copyText(e.what(), err, cap);
  } catch (const CMMError &e) {
    copyText(e.getFullMsg(), err, cap);
  } catch (const std::exception &e) {
    copyText(std::string("exception: ") + e.what(), err, cap);
  } catch (...) {
    copyText("unknown exception while opening MMCore", err, cap);
  }
  try {
    delete core; // unloads whatever the config had loaded
  } catch (...) {
  }
  return nullptr;
}

void gc_close(gc_core *core) {
  if (!core) return;
  try {
    {
      std::lock_guard<std::mutex> lock(core->mu);
      if (core->seq.active) {
        for (const auto &l : core->seq.runLabels) core->mm.stopSequenceAcquisition(l.c_str());
        if (core->seq.asiArmed) idleAsiSweep(core);
      }
      core->mm.unloadAllDevices();
    }
    delete core;
  } catch (...) {
    // nothing can be reported from here
  }
}

const char *gc_last_error(gc_core *core) {
  if (!core) return "no core (NULL handle)";
  if (threadErrorCore == core) return threadError.c_str();
  // Another thread's failure: copied, so the pointer stays valid until this thread's next call.
  std::lock_guard<std::mutex> lock(core->errorMu);
  threadError = core->lastError;
  return threadError.c_str();
}

int gc_list_devices(gc_core *core, char *out, size_t cap) {
  return guard(core, [&] {
    CMMCore &mm = core->mm;
    std::string j = "{\"cameras\":" + jsonArray(mm.getLoadedDevicesOfType(MM::CameraDevice)) +
                    ",\"xy_stages\":" + jsonArray(mm.getLoadedDevicesOfType(MM::XYStageDevice)) +
                    ",\"stages\":" + jsonArray(mm.getLoadedDevicesOfType(MM::StageDevice)) +
                    ",\"scanners\":" + jsonArray(mm.getLoadedDevicesOfType(MM::GalvoDevice)) +
                    ",\"config_groups\":{";
    std::vector<std::string> groups = mm.getAvailableConfigGroups();
    for (size_t i = 0; i < groups.size(); ++i)
      j += (i ? "," : "") + jsonString(groups[i]) + ":" +
           jsonArray(mm.getAvailableConfigs(groups[i].c_str()));
    std::vector<std::string> other;
    for (const auto &d : mm.getLoadedDevices()) {
      MM::DeviceType t = mm.getDeviceType(d.c_str());
      if (t != MM::CameraDevice && t != MM::XYStageDevice && t != MM::StageDevice &&
          t != MM::GalvoDevice && t != MM::CoreDevice)
        other.push_back(d);
    }
    j += "},\"other\":" + jsonArray(other);
    // The Device API this core was built against; hardware sweeps only on an ASI Tiger's SPIM state machine.
    j += ",\"core\":{\"version\":" + jsonString(mm.getVersionInfo()) +
         ",\"device_api\":" + std::to_string(DEVICE_INTERFACE_VERSION) +
         ",\"hardware_sweep\":" + (core->asiSpim ? "true" : "false") + "}}";
    return putText(j, out, cap);
  });
}

int gc_list_properties(gc_core *core, const char *device, char *out, size_t cap) {
  return guard(core, [&] {
    requireDevice(core, device, MM::AnyType);
    std::vector<std::string> names = core->mm.getDevicePropertyNames(device);
    // Cameras always list PixelSize_um (from the calibration when not a real property).
    if (isCamera(core, device) &&
        std::find(names.begin(), names.end(), kPixelSizeProp) == names.end())
      names.insert(std::lower_bound(names.begin(), names.end(), std::string(kPixelSizeProp)),
                   kPixelSizeProp);
    return putText(jsonArray(names), out, cap);
  });
}

int gc_get_property(gc_core *core, const char *device, const char *prop, char *out, size_t cap) {
  return guard(core, [&] {
    requireDevice(core, device, MM::AnyType);
    requireArg(prop, "property name");
    if (isCalibratedPixelSize(core, device, prop))
      return putText(formatDouble(calibratedPixelSizeUm(core, device)), out, cap);
    if (!core->mm.hasProperty(device, prop))
      fail(GC_E_ARGUMENT, std::string("\"") + device + "\" has no property \"" + prop + "\"");
    return putText(core->mm.getProperty(device, prop), out, cap);
  });
}

namespace {

// GC_E_RANGE unless the property takes `value`: one of its allowed values, within its limits. MMCore
// reports a device's refusal only as text (MMERR_DEVICE_GENERIC), indistinguishable from a device
// fault, so what MMCore knows of a property's values is checked here, before the device sees it.
void requireValueTaken(gc_core *core, const char *device, const char *prop, const std::string &value) {
  const std::string where = std::string("\"") + device + "\" property \"" + prop + "\": ";
  std::vector<std::string> allowed = core->mm.getAllowedPropertyValues(device, prop);
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    std::string list;
    for (const auto &a : allowed) list += (list.empty() ? "" : ", ") + a;
    fail(GC_E_RANGE, where + "value \"" + value + "\" is not one it takes (" + list + ")");
  }
  if (core->mm.hasPropertyLimits(device, prop)) {
    const double lo = core->mm.getPropertyLowerLimit(device, prop), hi = core->mm.getPropertyUpperLimit(device, prop);
    char *end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || *end != '\0' || !(v >= lo && v <= hi))
      fail(GC_E_RANGE, where + "value \"" + value + "\" is outside [" + formatDouble(lo) + ", " + formatDouble(hi) + "]");
  }
}

} // namespace

int gc_set_property(gc_core *core, const char *device, const char *prop, const char *value) {
  return guard(core, [&] {
    requireDevice(core, device, MM::AnyType);
    requireArg(prop, "property name");
    requireArg(value, "value");
    if (isCalibratedPixelSize(core, device, prop))
      fail(GC_E_ARGUMENT, std::string("PixelSize_um of \"") + device +
                              "\" comes from the pixel size configuration of the .cfg and "
                              "cannot be set");
    if (!core->mm.hasProperty(device, prop))
      fail(GC_E_ARGUMENT, std::string("\"") + device + "\" has no property \"" + prop + "\"");
    requireValueTaken(core, device, prop, value);
    core->mm.setProperty(device, prop, value);
    return GC_OK;
  });
}

int gc_get_xy_um(gc_core *core, const char *xy_stage, double *x_um, double *y_um) {
  return guard(core, [&] {
    requireDevice(core, xy_stage, MM::XYStageDevice);
    requireArg(x_um, "x_um");
    requireArg(y_um, "y_um");
    core->mm.getXYPosition(xy_stage, *x_um, *y_um);
    return GC_OK;
  });
}

int gc_set_xy_um(gc_core *core, const char *xy_stage, double x_um, double y_um) {
  int rc = guard(core, [&] {
    requireDevice(core, xy_stage, MM::XYStageDevice);
    core->mm.setXYPosition(xy_stage, x_um, y_um);
    return GC_OK;
  });
  return rc == GC_OK ? waitUnlocked(core, xy_stage) : rc;
}

int gc_get_position_um(gc_core *core, const char *stage, double *pos_um) {
  return guard(core, [&] {
    requireDevice(core, stage, MM::StageDevice);
    requireArg(pos_um, "pos_um");
    *pos_um = core->mm.getPosition(stage);
    return GC_OK;
  });
}

int gc_set_position_um(gc_core *core, const char *stage, double pos_um) {
  int rc = guard(core, [&] {
    requireDevice(core, stage, MM::StageDevice);
    core->mm.setPosition(stage, pos_um);
    return GC_OK;
  });
  return rc == GC_OK ? waitUnlocked(core, stage) : rc;
}

int gc_get_scanner_deg(gc_core *core, const char *scanner, double *a_deg, double *b_deg) {
  return guard(core, [&] {
    requireDevice(core, scanner, MM::GalvoDevice);
    requireArg(a_deg, "a_deg");
    requireArg(b_deg, "b_deg");
    core->mm.getGalvoPosition(scanner, *a_deg, *b_deg);
    return GC_OK;
  });
}

int gc_set_scanner_deg(gc_core *core, const char *scanner, double a_deg, double b_deg) {
  int rc = guard(core, [&] {
    requireDevice(core, scanner, MM::GalvoDevice);
    core->mm.setGalvoPosition(scanner, a_deg, b_deg);
    return GC_OK;
  });
  return rc == GC_OK ? waitUnlocked(core, scanner) : rc;
}

int gc_wait_for_device(gc_core *core, const char *device) {
  int rc = guard(core, [&] {
    requireDevice(core, device, MM::AnyType);
    return GC_OK;
  });
  return rc == GC_OK ? waitUnlocked(core, device) : rc;
}

int gc_set_config(gc_core *core, const char *group, const char *preset) {
  return guard(core, [&] {
    requireArg(group, "group");
    requireArg(preset, "preset");
    core->mm.setConfig(group, preset);
    core->mm.waitForConfig(group, preset);
    return GC_OK;
  });
}

int gc_get_config(gc_core *core, const char *group, char *out, size_t cap) {
  return guard(core, [&] {
    requireArg(group, "group");
    return putText(core->mm.getCurrentConfig(group), out, cap);
  });
}

int gc_set_exposure_ms(gc_core *core, const char *camera, double exposure_ms) {
  return guard(core, [&] {
    requireDevice(core, camera, MM::CameraDevice);
    if (!(exposure_ms > 0)) fail(GC_E_RANGE, "exposure must be > 0 ms");
    if (core->mm.hasProperty(camera, MM::g_Keyword_Exposure))
      requireValueTaken(core, camera, MM::g_Keyword_Exposure, formatDouble(exposure_ms));
    core->mm.setExposure(camera, exposure_ms);
    return GC_OK;
  });
}

int gc_get_exposure_ms(gc_core *core, const char *camera, double *exposure_ms) {
  return guard(core, [&] {
    requireDevice(core, camera, MM::CameraDevice);
    requireArg(exposure_ms, "exposure_ms");
    *exposure_ms = core->mm.getExposure(camera);
    return GC_OK;
  });
}

/* The camera's binning factor ("2", or "2x2" as some adapters write it); 1 without a Binning property. */
static int cameraBinning(gc_core *c, const char *camera) {
  if (!c->mm.hasProperty(camera, MM::g_Keyword_Binning)) return 1;
  const std::string value = c->mm.getProperty(camera, MM::g_Keyword_Binning);
  const int b = std::atoi(value.c_str());
  if (b < 1) fail(GC_E_DEVICE, std::string("camera \"") + camera + "\" reports binning \"" + value + "\"");
  return b;
}

/* The ABI's ROI is in sensor pixels at any binning; Micro-Manager's is in binned pixels. */
int gc_set_roi(gc_core *core, const char *camera, int x, int y, int width, int height) {
  return guard(core, [&] {
    requireDevice(core, camera, MM::CameraDevice);
    if (x < 0 || y < 0 || width <= 0 || height <= 0) fail(GC_E_ARGUMENT, "bad ROI");
    const int b = cameraBinning(core, camera);
    if (x % b || y % b || width % b || height % b)
      fail(GC_E_ARGUMENT, "ROI x=" + std::to_string(x) + " y=" + std::to_string(y) + " w=" + std::to_string(width) +
                              " h=" + std::to_string(height) + " is not a whole number of " + std::to_string(b) + "x" +
                              std::to_string(b) + " binned pixels");
    core->mm.setROI(camera, x / b, y / b, width / b, height / b);
    return GC_OK;
  });
}

int gc_get_roi(gc_core *core, const char *camera, int *x, int *y, int *width, int *height) {
  return guard(core, [&] {
    requireDevice(core, camera, MM::CameraDevice);
    requireArg(x, "x");
    requireArg(y, "y");
    requireArg(width, "width");
    requireArg(height, "height");
    core->mm.getROI(camera, *x, *y, *width, *height);
    const int b = cameraBinning(core, camera);
    *x *= b;
    *y *= b;
    *width *= b;
    *height *= b;
    return GC_OK;
  });
}

int gc_frame_bytes(gc_core *core, const char *camera, size_t *bytes) {
  return guard(core, [&] {
    requireDevice(core, camera, MM::CameraDevice);
    requireArg(bytes, "bytes");
    unsigned w, h, bpp;
    cameraGeometry(core, camera, w, h, bpp);
    *bytes = static_cast<size_t>(w) * h * bpp;
    return GC_OK;
  });
}

int gc_snap(gc_core *core, const char *camera, void *buf, size_t cap, gc_frame_meta *meta) {
  unsigned w = 0, h = 0, bpp = 0;
  size_t bytes = 0;
  int rc = guard(core, [&] {
    requireDevice(core, camera, MM::CameraDevice);
    requireArg(buf, "buf");
    if (core->seq.active && anyRunning(core)) fail(GC_E_BUSY, "a sequence is running");
    if (core->snapping) fail(GC_E_BUSY, "another snap is exposing");
    cameraGeometry(core, camera, w, h, bpp);
    bytes = static_cast<size_t>(w) * h * bpp;
    if (bytes > cap)
      fail(GC_E_BUFFER, "frame needs " + std::to_string(bytes) + " bytes, buffer has " +
                            std::to_string(cap));
    core->snapping = true;
    return GC_OK;
  });
  if (rc != GC_OK) return rc;
  // The exposure runs without the mutex: state reads and stops answer meanwhile.
  uint64_t t = 0;
  rc = run(core, [&] {
    core->mm.snapImage();
    t = nowUs();
    copyFrame(core->mm.getImage(), bytes, buf, cap);
    return GC_OK;
  });
  std::lock_guard<std::mutex> lock(core->mu);
  core->snapping = false;
  if (rc != GC_OK) return rc;
  return run(core, [&] {
    if (meta) {
      *meta = gc_frame_meta{};
      meta->timestamp_us = t;
      meta->width = w;
      meta->height = h;
      meta->bytes_per_pixel = bpp;
      meta->camera_index = cameraIndex(core, camera);
      readPositions(core, meta->piezo_um, meta->galvo_deg, meta->x_um, meta->y_um);
    }
    return GC_OK;
  });
}

int gc_start_sequence(gc_core *core, const char *cameras, uint32_t count, const gc_sweep *sweep) {
  return guard(core, [&] {
    requireArg(cameras, "cameras");
    std::vector<std::string> cams = splitList(cameras, ',');
    if (cams.empty()) fail(GC_E_ARGUMENT, "no camera given");
    for (const auto &c : cams) requireDevice(core, c.c_str(), MM::CameraDevice);
    if (count == 0) fail(GC_E_ARGUMENT, "count must be > 0");
    if (sweep && sweep->num_slices == 0) fail(GC_E_ARGUMENT, "sweep.num_slices must be > 0");
    if (core->mm.isSequenceRunning() || (core->seq.active && anyRunning(core)))
      fail(GC_E_BUSY, "a sequence is running");
    if (core->snapping) fail(GC_E_BUSY, "a snap is exposing");
    if (sweep && !core->asiSpim)
      fail(GC_E_ARGUMENT, "this core has no hardware sequencing of piezo and galvo (no ASI Tiger SPIM "
                          "scanner): step the sweep slice by slice");

    gc_core::Seq s;
    s.count = count;
    s.cameras = cams;
    for (const auto &c : cams) s.next[c] = 0;
    if (sweep) {
      s.hasSweep = true;
      s.sweep = *sweep;
    }
    readPositions(core, s.piezo_um, s.galvo_deg, s.x_um, s.y_um);

    // One camera: itself. Several: a Multi Camera device that bundles exactly
    // them when the config has one (frames stay in step), else each camera in
    // turn (they share MMCore's circular buffer, so their frames must have
    // the same size).
    if (cams.size() == 1) {
      s.runLabels = cams;
    } else {
      std::string multi = findMultiCamera(core, cams);
      if (!multi.empty()) s.runLabels = {multi};
      else s.runLabels = cams;
    }
    // The circular buffer is sized from the current camera.
    core->mm.setCameraDevice(s.runLabels.front().c_str());

    if (sweep && core->asiSpim) {
      armAsiSweep(core, *sweep);
      s.asiArmed = true;
    }
    core->seq = s;
    try {
      for (const auto &l : s.runLabels)
        core->mm.startSequenceAcquisition(l.c_str(), static_cast<long>(count), 0.0, false);
      if (s.asiArmed) startAsiSweep(core);
    } catch (...) {
      for (const auto &l : s.runLabels) {
        try {
          core->mm.stopSequenceAcquisition(l.c_str());
        } catch (...) {
        }
      }
      if (s.asiArmed) idleAsiSweep(core);
      core->seq.active = false;
      throw;
    }
    core->seq.active = true;
    return GC_OK;
  });
}

int gc_stop_sequence(gc_core *core) {
  return guard(core, [&] {
    if (!core->seq.active) return GC_OK; // stopping twice is harmless
    for (const auto &l : core->seq.runLabels) core->mm.stopSequenceAcquisition(l.c_str());
    if (core->seq.asiArmed) idleAsiSweep(core);
    core->seq.stopped = true;
    return GC_OK;
  });
}

int gc_is_sequence_running(gc_core *core) {
  int running = 0;
  int rc = guard(core, [&] {
    running = core->seq.active && anyRunning(core);
    return GC_OK;
  });
  return rc == GC_OK ? running : rc;
}

namespace {

enum class PopState { Frame, Empty, Drained };

// One non-blocking attempt, under the mutex.
PopState popOnce(gc_core *c, void *buf, size_t cap, gc_frame_meta *meta, uint64_t &dropped) {
  gc_core::Seq &s = c->seq;
  if (!s.active) return PopState::Drained;
  // Look at "running" before "remaining": once nothing runs and the buffer is
  // empty, no frame can arrive any more.
  const bool running = anyRunning(c);
  if (c->mm.getRemainingImageCount() == 0) {
    if (running) {
      if (c->mm.isBufferOverflowed() && !s.overflowReported) {
        s.overflowReported = true;
        fail(GC_E_OVERFLOW, "MMCore's circular buffer overflowed; the camera stopped and frames were lost");
      }
      return PopState::Empty;
    }
    if (c->mm.isBufferOverflowed() && !s.overflowReported) {
      s.overflowReported = true;
      fail(GC_E_OVERFLOW, "MMCore's circular buffer overflowed; frames were lost");
    }
    // Finished: frames the camera never delivered to us count as dropped.
    if (!s.stopped)
      for (const auto &cam : s.cameras)
        if (s.next[cam] < s.count) dropped += s.count - s.next[cam];
    if (s.asiArmed) idleAsiSweep(c);
    s.active = false;
    return PopState::Drained;
  }

  Metadata md;
  void *px = c->mm.popNextImageMD(md);
  std::string cam = tagOr(md, MM::g_Keyword_Metadata_CameraLabel, s.cameras.front());
  unsigned w = static_cast<unsigned>(std::atol(tagOr(md, MM::g_Keyword_Metadata_Width, "0").c_str()));
  unsigned h = static_cast<unsigned>(std::atol(tagOr(md, MM::g_Keyword_Metadata_Height, "0").c_str()));
  unsigned bpp = c->mm.getBytesPerPixel(); // geometry of the current (sequence) camera
  if (w == 0 || h == 0) {
    w = c->mm.getImageWidth();
    h = c->mm.getImageHeight();
  }
  copyFrame(px, static_cast<size_t>(w) * h * bpp, buf, cap);

  // seq: the camera's own frame number when the core tagged one, which also
  // reveals frames lost to buffer overwrites.
  uint64_t own = s.popped[cam]++;
  std::string num = tagOr(md, MM::g_Keyword_Metadata_ImageNumber, "");
  uint64_t n = num.empty() ? own : std::strtoull(num.c_str(), nullptr, 10);
  uint64_t &next = s.next[cam];
  if (n > next) dropped += n - next;
  if (n + 1 > next) next = n + 1;

  if (meta) {
    *meta = gc_frame_meta{};
    meta->seq = n;
    uint64_t t = parseCoreTime(tagOr(md, MM::g_Keyword_Metadata_TimeInCore, ""));
    meta->timestamp_us = t ? t : nowUs();
    meta->width = w;
    meta->height = h;
    meta->bytes_per_pixel = bpp;
    meta->camera_index = cameraIndex(c, cam);
    meta->x_um = s.x_um;
    meta->y_um = s.y_um;
    if (s.hasSweep) {
      const uint64_t slice = n % s.sweep.num_slices;
      meta->piezo_um = s.sweep.piezo_start_um + slice * s.sweep.piezo_step_um;
      meta->galvo_deg = s.sweep.galvo_start_deg + slice * s.sweep.galvo_step_deg;
    } else {
      meta->piezo_um = s.piezo_um;
      meta->galvo_deg = s.galvo_deg;
    }
  }
  return PopState::Frame;
}

} // namespace

int gc_pop_next(gc_core *core, void *buf, size_t cap, gc_frame_meta *meta, uint32_t timeout_ms,
                uint64_t *dropped) {
  if (dropped) *dropped = 0;
  if (!core) return GC_E_ARGUMENT;
  if (!buf) return failed(core, GC_E_ARGUMENT, "buf is NULL");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    uint64_t lost = 0;
    PopState st = PopState::Empty;
    // The mutex is held only for one attempt, never while sleeping, so other
    // calls (e.g. gc_stop_sequence from another thread) get through.
    int rc = guard(core, [&] {
      st = popOnce(core, buf, cap, meta, lost);
      return GC_OK;
    });
    if (dropped) *dropped += lost;
    if (rc != GC_OK) return rc;
    if (st == PopState::Frame) return GC_OK;
    if (st == PopState::Drained) return failed(core, GC_E_NOT_RUNNING, "no sequence is running");
    if (std::chrono::steady_clock::now() >= deadline)
      return failed(core, GC_E_TIMEOUT, "no frame within " + std::to_string(timeout_ms) + " ms");
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

} // extern "C"
