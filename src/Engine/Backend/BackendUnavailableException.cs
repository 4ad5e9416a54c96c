namespace VmReplay.Engine.Backend;

/// <summary>The backend asked for cannot run here (no usable /dev/kvm for <c>--cpu kvm</c>); the message says why, in one line.</summary>
public sealed class BackendUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
