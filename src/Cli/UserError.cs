namespace VmReplay.Cli;

/// <summary>A mistake in what the user asked for; printed as one line, exit status 3.</summary>
internal sealed class UserError(string message) : Exception(message);
