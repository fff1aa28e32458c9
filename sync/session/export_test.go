package session

// SetFrameHook makes h call hook with each message before handling it
// (call it before any connection). Tests use it to make frame handling
// panic.
func SetFrameHook(h *Handler, hook func(data []byte)) { h.frameHook = hook }
