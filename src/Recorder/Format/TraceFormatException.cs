namespace VmReplay.Recorder.Format;

/// <summary>A trace file is not readable as one: the message names the file, and the chunk and offset where relevant.</summary>
public sealed class TraceFormatException(string message) : Exception(message);
