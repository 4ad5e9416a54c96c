namespace VmReplay.Engine.Kvm;

/// <summary>/dev/kvm is missing, inaccessible, or lacks a capability vmreplay needs; the message says which.</summary>
public sealed class KvmUnavailableException(string message) : Exception(message);
