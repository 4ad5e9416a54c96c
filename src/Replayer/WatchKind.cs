namespace VmReplay.Replayer;

/// <summary>What a watchpoint stops for: a change of the value (gdb's `watch`), a read (`rwatch`), or any access (`awatch`).</summary>
public enum WatchKind { Write, Read, Access }
