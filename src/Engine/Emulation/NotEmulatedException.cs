namespace VmReplay.Engine.Emulation;

/// <summary>A case the emulator deliberately does not handle (reported, state untouched).</summary>
internal sealed class NotEmulatedException(string reason) : Exception(reason);
