using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using VmReplay.Recorder.Format;
using Xunit;

namespace VmReplay.Recorder.Tests;

/// <summary>The trace's JSON writers escape with <see cref="TraceJsonEncoder"/> exactly as with the default encoder.</summary>
public class TraceJsonEncoderTests
{
    public static TheoryData<string> Texts()
    {
        var data = new TheoryData<string>();
        // Every ASCII character alone, inside plain text and before a character that is escaped.
        for (int c = 0; c < 0x80; c++)
        {
            data.Add(((char)c).ToString());
            data.Add($"console=ttyS0{(char)c}panic=-1");
            data.Add($"{(char)c}\"");
        }
        foreach (string s in new[] { "", "plain", "é", "naïve kernel", "中文", "\u2028\u2029", "😀 face", "a\uD800b", "\uDC00", "<script>&'+`", "tab\there\r\n", "\u007F\u0080\u00A0" })
            data.Add(s);
        return data;
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void WritesWhatTheDefaultEncoderWrites(string text)
    {
        Assert.Equal(Write(text, encoder: null), Write(text, TraceJsonEncoder.Instance));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void EncodesAndDecidesAsTheDefaultEncoder(string text)
    {
        Assert.Equal(JavaScriptEncoder.Default.Encode(text), TraceJsonEncoder.Instance.Encode(text));
        foreach (var rune in text.EnumerateRunes())
            Assert.Equal(JavaScriptEncoder.Default.WillEncode(rune.Value), TraceJsonEncoder.Instance.WillEncode(rune.Value));
    }

    // An object with the text as a property name and as values (UTF-16 and UTF-8), indented and not.
    private static string Write(string text, JavaScriptEncoder? encoder)
    {
        var result = new System.Text.StringBuilder();
        foreach (bool indented in new[] { false, true })
        {
            var buffer = new ArrayBufferWriter<byte>();
            using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented, Encoder = encoder }))
            {
                w.WriteStartObject();
                w.WriteString(text, text);
                w.WriteString("utf8", System.Text.Encoding.UTF8.GetBytes(text));
                w.WritePropertyName(System.Text.Encoding.UTF8.GetBytes("p" + text));
                w.WriteStartArray();
                w.WriteStringValue(text);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            result.Append(Convert.ToHexString(buffer.WrittenSpan)).Append('|');
        }
        return result.ToString();
    }
}
