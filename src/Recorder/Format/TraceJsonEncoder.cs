using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace VmReplay.Recorder.Format;

/// <summary>
/// The JSON escaping of <see cref="JavaScriptEncoder.Default"/>, byte for byte (a test holds it
/// to it), for the trace's JSON writers. Every string a writer writes, property names included,
/// is first searched for a character to escape; the default encoder's search is vector code no
/// precompiled image holds, which the JIT compiled at its first use: 7 to 8 ms of CPU on this
/// kind of host, on the recording's writer thread before its header (a short guest's recording
/// waits for that thread) and on a replay's first snapshot check. The trace's text is plain
/// ASCII, which this searches itself; escaping what needs it is left to the default encoder.
/// </summary>
internal sealed unsafe class TraceJsonEncoder : JavaScriptEncoder
{
    public static readonly TraceJsonEncoder Instance = new();

    /// <summary>How the trace's JSON is written: with this encoder, compact (a header adds indentation).</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = Instance };

    private TraceJsonEncoder() { }

    // What the default encoder escapes among ASCII: the C0 controls and DEL, and the characters
    // HTML or JavaScript give a meaning to; it escapes everything beyond ASCII too.
    private static bool Escapes(int c) =>
        c < 0x20 || c >= 0x7F || c is '"' or '&' or '\'' or '+' or '<' or '>' or '\\' or '`';

    public override int MaxOutputCharactersPerInputCharacter => Default.MaxOutputCharactersPerInputCharacter;

    public override bool WillEncode(int unicodeScalar) => unicodeScalar < 0x80 ? Escapes(unicodeScalar) : Default.WillEncode(unicodeScalar);

    // The characters written as they are; the search for any other is the runtime's own
    // (precompiled, vectorised): a character at a time, it was a third of a replay's device-state
    // writing at each snapshot check (callgrind, bench-exits: 0.43 of 1.2 M instructions).
    private static readonly string Plain = new(Enumerable.Range(0, 0x80).Where(c => !Escapes(c)).Select(c => (char)c).ToArray());
    private static readonly SearchValues<byte> PlainBytes = SearchValues.Create(Plain.Select(c => (byte)c).ToArray());
    private static readonly SearchValues<char> PlainChars = SearchValues.Create(Plain);

    public override int FindFirstCharacterToEncodeUtf8(ReadOnlySpan<byte> utf8Text) => utf8Text.IndexOfAnyExcept(PlainBytes);

    public override int FindFirstCharacterToEncode(char* text, int textLength) => new ReadOnlySpan<char>(text, textLength).IndexOfAnyExcept(PlainChars);

    public override bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten) =>
        Default.TryEncodeUnicodeScalar(unicodeScalar, buffer, bufferLength, out numberOfCharactersWritten);

    public override OperationStatus EncodeUtf8(ReadOnlySpan<byte> utf8Source, Span<byte> utf8Destination, out int bytesConsumed, out int bytesWritten, bool isFinalBlock = true) =>
        Default.EncodeUtf8(utf8Source, utf8Destination, out bytesConsumed, out bytesWritten, isFinalBlock);

    public override OperationStatus Encode(ReadOnlySpan<char> source, Span<char> destination, out int charsConsumed, out int charsWritten, bool isFinalBlock = true) =>
        Default.Encode(source, destination, out charsConsumed, out charsWritten, isFinalBlock);

    public override string Encode(string value) => FindFirstCharacterToEncode(value) < 0 ? value : Default.Encode(value);

    private int FindFirstCharacterToEncode(string value)
    {
        fixed (char* p = value) return FindFirstCharacterToEncode(p, value.Length);
    }
}
