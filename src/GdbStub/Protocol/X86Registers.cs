namespace VmReplay.GdbStub.Protocol;

/// <summary>
/// The two x86 register layouts this stub offers gdb. Their core, sse and segments features copy
/// gdb's own gdb/features/i386/{64bit,32bit}-{core,sse,segments}.xml, so gdb's amd64 and i386 code
/// recognise every register they expect by name; control registers and EFER follow in a feature
/// of our own, which gdb shows as extra registers in the "system" group.
/// See https://sourceware.org/gdb/current/onlinedocs/gdb.html/i386-Features.html
/// </summary>
public static class X86Registers
{
    public const string CoreFeature = "org.gnu.gdb.i386.core";
    public const string SseFeature = "org.gnu.gdb.i386.sse";
    public const string SegmentsFeature = "org.gnu.gdb.i386.segments";
    public const string SystemFeature = "org.vmreplay.x86.system";

    /// <summary>i386:x86-64: 64-bit guests, and 32-bit images whose guest runs in long mode.</summary>
    public static RegisterLayout Amd64 { get; } = new("i386:x86-64", Build(is64: true), TypesOf);

    /// <summary>
    /// i386: what gdb selects for a 32-bit ELF, so `gdb guest.elf -ex 'target remote ...'` works
    /// as typed for guests that never enter long mode (gdb refuses a 64-bit description there).
    /// </summary>
    public static RegisterLayout I386 { get; } = new("i386", Build(is64: false), TypesOf);

    private static List<RegisterInfo> Build(bool is64)
    {
        var registers = new List<RegisterInfo>();
        void Add(string name, int bits, string type, string feature, string group = "") =>
            registers.Add(new RegisterInfo(registers.Count, name, bits, type, group, feature));

        if (is64)
        {
            foreach (var name in new[] { "rax", "rbx", "rcx", "rdx", "rsi", "rdi" })
                Add(name, 64, "int64", CoreFeature);
            Add("rbp", 64, "data_ptr", CoreFeature);
            Add("rsp", 64, "data_ptr", CoreFeature);
            for (var i = 8; i <= 15; i++)
                Add($"r{i}", 64, "int64", CoreFeature);
            Add("rip", 64, "code_ptr", CoreFeature);
        }
        else
        {
            foreach (var name in new[] { "eax", "ecx", "edx", "ebx" })
                Add(name, 32, "int32", CoreFeature);
            Add("esp", 32, "data_ptr", CoreFeature);
            Add("ebp", 32, "data_ptr", CoreFeature);
            Add("esi", 32, "int32", CoreFeature);
            Add("edi", 32, "int32", CoreFeature);
            Add("eip", 32, "code_ptr", CoreFeature);
        }
        Add("eflags", 32, "i386_eflags", CoreFeature);
        foreach (var name in new[] { "cs", "ss", "ds", "es", "fs", "gs" })
            Add(name, 32, "int32", CoreFeature);
        for (var i = 0; i < 8; i++)
            Add($"st{i}", 80, "i387_ext", CoreFeature);
        foreach (var name in new[] { "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop" })
            Add(name, 32, "int", CoreFeature, "float");

        for (var i = 0; i < (is64 ? 16 : 8); i++)
            Add($"xmm{i}", 128, "vec128", SseFeature);
        Add("mxcsr", 32, "i386_mxcsr", SseFeature, "vector");

        // gdb 13's i386 code numbers the segments feature's registers past the end of its own
        // register set (an internal error in tdesc_use_registers); as our own feature's
        // registers the bases still show in `info registers`.
        Add("fs_base", is64 ? 64 : 32, "int", is64 ? SegmentsFeature : SystemFeature, is64 ? "" : "system");
        Add("gs_base", is64 ? 64 : 32, "int", is64 ? SegmentsFeature : SystemFeature, is64 ? "" : "system");

        foreach (var name in new[] { "cr0", "cr2", "cr3", "cr4", "cr8", "efer" })
            Add(name, 64, "int", SystemFeature, "system");
        return registers;
    }

    private static string TypesOf(string feature) => feature switch
    {
        CoreFeature => """
                <flags id="i386_eflags" size="4">
                  <field name="CF" start="0" end="0"/>
                  <field name="" start="1" end="1"/>
                  <field name="PF" start="2" end="2"/>
                  <field name="AF" start="4" end="4"/>
                  <field name="ZF" start="6" end="6"/>
                  <field name="SF" start="7" end="7"/>
                  <field name="TF" start="8" end="8"/>
                  <field name="IF" start="9" end="9"/>
                  <field name="DF" start="10" end="10"/>
                  <field name="OF" start="11" end="11"/>
                  <field name="NT" start="14" end="14"/>
                  <field name="RF" start="16" end="16"/>
                  <field name="VM" start="17" end="17"/>
                  <field name="AC" start="18" end="18"/>
                  <field name="VIF" start="19" end="19"/>
                  <field name="VIP" start="20" end="20"/>
                  <field name="ID" start="21" end="21"/>
                </flags>

            """,
        SseFeature => """
                <vector id="v8bf16" type="bfloat16" count="8"/>
                <vector id="v8h" type="ieee_half" count="8"/>
                <vector id="v4f" type="ieee_single" count="4"/>
                <vector id="v2d" type="ieee_double" count="2"/>
                <vector id="v16i8" type="int8" count="16"/>
                <vector id="v8i16" type="int16" count="8"/>
                <vector id="v4i32" type="int32" count="4"/>
                <vector id="v2i64" type="int64" count="2"/>
                <union id="vec128">
                  <field name="v8_bfloat16" type="v8bf16"/>
                  <field name="v8_half" type="v8h"/>
                  <field name="v4_float" type="v4f"/>
                  <field name="v2_double" type="v2d"/>
                  <field name="v16_int8" type="v16i8"/>
                  <field name="v8_int16" type="v8i16"/>
                  <field name="v4_int32" type="v4i32"/>
                  <field name="v2_int64" type="v2i64"/>
                  <field name="uint128" type="uint128"/>
                </union>
                <flags id="i386_mxcsr" size="4">
                  <field name="IE" start="0" end="0"/>
                  <field name="DE" start="1" end="1"/>
                  <field name="ZE" start="2" end="2"/>
                  <field name="OE" start="3" end="3"/>
                  <field name="UE" start="4" end="4"/>
                  <field name="PE" start="5" end="5"/>
                  <field name="DAZ" start="6" end="6"/>
                  <field name="IM" start="7" end="7"/>
                  <field name="DM" start="8" end="8"/>
                  <field name="ZM" start="9" end="9"/>
                  <field name="OM" start="10" end="10"/>
                  <field name="UM" start="11" end="11"/>
                  <field name="PM" start="12" end="12"/>
                  <field name="FZ" start="15" end="15"/>
                </flags>

            """,
        _ => "",
    };
}
