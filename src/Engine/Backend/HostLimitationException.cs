namespace VmReplay.Engine.Backend;

/// <summary>A replay operation needs a mechanism this host's KVM does not provide; the message names it.</summary>
public sealed class HostLimitationException(string message) : Exception(message);
