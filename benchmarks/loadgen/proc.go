package loadgen

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClockTicks is the kernel's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat. It is 100 on every Linux architecture Go supports;
// reading sysconf(_SC_CLK_TCK) would need cgo.
const ClockTicks = 100

// ProcSample is a process's CPU time and resident memory read from /proc.
type ProcSample struct {
	CPU      time.Duration // utime + stime
	RSSBytes int64         // VmRSS
	HWMBytes int64         // VmHWM (peak resident)
}

// ReadProc reads /proc/<pid>/stat and /proc/<pid>/status; pid 0 means the
// calling process (/proc/self).
func ReadProc(pid int) (ProcSample, error) {
	dir := "/proc/self"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	var s ProcSample
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted from the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return s, fmt.Errorf("loadgen: %s/stat: no ')'", dir)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return s, fmt.Errorf("loadgen: %s/stat: %d fields", dir, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("loadgen: %s/stat: utime %q stime %q", dir, f[11], f[12])
	}
	s.CPU = time.Duration(ut+st) * time.Second / ClockTicks
	fh, err := os.Open(dir + "/status")
	if err != nil {
		return s, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []struct {
			name string
			dst  *int64
		}{{"VmRSS:", &s.RSSBytes}, {"VmHWM:", &s.HWMBytes}} {
			if rest, ok := strings.CutPrefix(line, k.name); ok {
				v := strings.Fields(rest)
				if len(v) >= 1 {
					n, _ := strconv.ParseInt(v[0], 10, 64)
					*k.dst = n * 1024 // reported in kB
				}
			}
		}
	}
	return s, sc.Err()
}

// LoadAvg is the first three fields of /proc/loadavg ("1.02 0.87 0.55"),
// or "" when it cannot be read: results carry it because the harness
// shares its cores with the server and whatever else runs on the machine.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
