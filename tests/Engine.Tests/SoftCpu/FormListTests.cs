using Iced.Intel;
using VmReplay.Engine.SoftCpu.Instructions;

namespace VmReplay.Engine.Tests.SoftCpu;

/// <summary>
/// The forms the instruction families list by hand instead of picking them out by Iced's names
/// (naming one Code builds the names of all of them, 400 KB at every start): each list is
/// exactly the forms the names pick out, over every form this version of Iced knows, so that an
/// Iced that adds one fails here rather than leaving it with the wrong handler.
/// </summary>
public class FormListTests
{
    private static readonly Code[] Every = Enum.GetValues<Code>();

    public static TheoryData<string> Lists() => ["special-register moves", "segment pushes and pops", "MMX forms", "shifts by an immediate", "x87 memory forms"];

    [Theory]
    [MemberData(nameof(Lists))]
    public void EachListIsWhatTheNamesPickOut(string list)
    {
        var (candidates, byName, listed) = Rule(list);
        var wrong = Every.Where(candidates).Where(c => byName(c.ToString()) != listed(c)).ToList();
        Assert.True(wrong.Count == 0, $"{list}: listed wrongly: {string.Join(", ", wrong)}");
        Assert.Contains(Every, c => candidates(c) && listed(c));
    }

    private static (Func<Code, bool> Candidates, Func<string, bool> ByName, Func<Code, bool> Listed) Rule(string list) => list switch
    {
        "special-register moves" => (c => c.Mnemonic() == Mnemonic.Mov,
            n => n.Contains("Sreg") || n.Contains("_cr") || n.Contains("_dr") || n.Contains("_tr") || n.Contains("Cr_") || n.Contains("Dr_") || n.Contains("Tr_"),
            DataTransfer.IsSpecialRegisterMove),
        "segment pushes and pops" => (c => c.Mnemonic() is Mnemonic.Push or Mnemonic.Pop,
            n => n.Contains("ES") || n.Contains("CS") || n.Contains("SS") || n.Contains("DS") || n.Contains("FS") || n.Contains("GS"),
            DataTransfer.IsSegmentPushOrPop),
        "MMX forms" => (SseInstructionSet.Includes, n => n.Contains("_mm") && !n.Contains("xmm"), SseInstructionSet.IsMmxForm),
        "shifts by an immediate" => (c => SseInstructionSet.Includes(c) && c.Mnemonic() is Mnemonic.Psrlw or Mnemonic.Psraw or Mnemonic.Psllw
                or Mnemonic.Psrld or Mnemonic.Psrad or Mnemonic.Pslld or Mnemonic.Psrlq or Mnemonic.Psllq or Mnemonic.Pslldq or Mnemonic.Psrldq,
            n => n.EndsWith("imm8"), PackedShift.IsByImmediate),
        "x87 memory forms" => (c => c.Mnemonic() is Mnemonic.Fadd or Mnemonic.Fsub or Mnemonic.Fsubr or Mnemonic.Fmul or Mnemonic.Fdiv or Mnemonic.Fdivr,
            n => n.EndsWith("fp"), VmReplay.Engine.SoftCpu.Instructions.X87.IsMemoryForm),
        _ => throw new ArgumentException(list),
    };

    [Fact]
    public void NearJumpsAndCallsAreWhatTheNamesPickOut()
    {
        // A near JMP or CALL is one whose name has no far pointer; a relative one has "rel".
        static bool Near(string n) => !n.Contains("ptr") && !n.Contains("m1616") && !n.Contains("m1632") && !n.Contains("m1664");
        foreach (var c in Every.Where(c => c.Mnemonic() == Mnemonic.Jmp))
        {
            Assert.Equal(Near(c.ToString()) && c.ToString().Contains("rel"), c.IsJmpShortOrNear());
            Assert.Equal(Near(c.ToString()) && !c.ToString().Contains("rel"), c.IsJmpNearIndirect());
        }
        foreach (var c in Every.Where(c => c.Mnemonic() == Mnemonic.Call))
        {
            Assert.Equal(Near(c.ToString()) && c.ToString().Contains("rel"), c.IsCallNear());
            Assert.Equal(Near(c.ToString()) && !c.ToString().Contains("rel"), c.IsCallNearIndirect());
        }
    }
}
