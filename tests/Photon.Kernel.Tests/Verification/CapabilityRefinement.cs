using System.Numerics;
using CapabilityTree;
using Photon.Kernel.Capabilities;
using Model = CapabilityTree.__default;

namespace Photon.Kernel.Tests.Verification;

/// <summary>One operation of a refinement run. <see cref="A"/> and <see cref="B"/> pick tokens, objects and variants
/// (taken modulo what exists); <see cref="P1"/>, <see cref="P2"/> pick principals.</summary>
public enum CapOp { Create, CreateOnExisting, Derive, DeriveForKernel, DeriveCharged, Move, MoveForKernel, Revoke, RevokeDescendants, Check, CheckForged }

public readonly record struct CapStep(CapOp Op, int A, int B, uint Rights, int P1, int P2);

/// <summary>
/// Runs the real <see cref="CapabilityManager"/> and the verified Dafny model (verification/CapabilityTree.dfy, compiled
/// to C#) in lockstep: the same operation goes to both, and their results and observable states must be identical after
/// every step — tokens (slot index, secret, generation), error codes, revoke counts, the live count, the quarantine
/// length, every holder's quota charge, every object's live count and destruction, and, for the tokens involved and a
/// sample of the others, what Check and Inspect say. The only input the model takes from the real run is each new
/// token's random secret (the CSPRNG is outside the model). Everything goes through the manager's API, so the test
/// holds for any implementation behind it.
/// </summary>
internal sealed class CapabilityRefinement
{
    public const int Principals = 4;
    private const uint UnknownRight = 1u << 20;
    private static readonly Principal[] s_principals =
        Enumerable.Range(0, Principals).Select(i => new Principal($"p{i}", $"/t{i}")).ToArray();

    private readonly CapabilityManager _real;
    private _IManager _model;
    private readonly Dictionary<Principal, int> _charges = new();
    private readonly int _quotaLimit;
    private readonly List<CapabilityToken> _tokens = new();
    private readonly List<GenericObject> _objects = new();
    private int _step;
    private bool _lastOk;
    private ErrorCode _lastCode;

    /// <param name="quarantine">the real manager's <see cref="CapabilityManager.ReuseQuarantine"/></param>
    /// <param name="quotaLimit">capabilities each principal may be charged for</param>
    /// <param name="modelQuarantine">the model's quarantine; differs from <paramref name="quarantine"/> only to show
    /// that the comparison catches a divergence</param>
    public CapabilityRefinement(int quarantine, int quotaLimit, int? modelQuarantine = null)
    {
        _quotaLimit = quotaLimit;
        _real = new CapabilityManager { ReuseQuarantine = quarantine };
        _real.Quota = (p, delta) =>
        {
            int have = _charges.GetValueOrDefault(p);
            if (delta > 0 && have >= _quotaLimit) return Result.Fail(ErrorCode.QuotaExceeded, $"{p} is at its limit");
            _charges[p] = have + delta;
            return Result.Ok;
        };
        _model = Model.Empty(modelQuarantine ?? quarantine, 1 << 24, quotaLimit);
    }

    public int Steps => _step;

    /// <summary>Per operation, how often it succeeded in the real manager; per error code, how often it was seen (so a
    /// run shows it did real work: derivations, moves, revocations, slot reuse, quota refusals).</summary>
    public readonly long[] Succeeded = new long[Enum.GetValues<CapOp>().Length];
    public readonly Dictionary<ErrorCode, long> Seen = new();

    private void Record(CapOp op, bool ok, ErrorCode code)
    {
        if (ok) Succeeded[(int)op]++;
        else Seen[code] = Seen.GetValueOrDefault(code) + 1;
    }

    /// <summary>Applies one step to both; returns a description of the first difference, or null.</summary>
    public string? Apply(CapStep s)
    {
        _step++;
        var diff = s.Op switch
        {
            CapOp.Create => Create(NewObject(), s.Rights, s.P1),
            CapOp.CreateOnExisting => _objects.Count == 0 ? Create(NewObject(), s.Rights, s.P1) : Create(_objects[Pick(s.A, _objects.Count)], s.Rights, s.P1),
            CapOp.Derive => Derive(s, requireDelegate: true, charged: false),
            CapOp.DeriveForKernel => Derive(s, requireDelegate: false, charged: false),
            CapOp.DeriveCharged => Derive(s, requireDelegate: true, charged: true),
            CapOp.Move => Move(s, requireTransfer: true),
            CapOp.MoveForKernel => Move(s, requireTransfer: false),
            CapOp.Revoke => Revoke(PickToken(s.A), includeSelf: true),
            CapOp.RevokeDescendants => Revoke(PickToken(s.A), includeSelf: false),
            CapOp.Check => CompareCheck(PickToken(s.A), (Rights)(s.Rights & 0x3FFF)),
            CapOp.CheckForged => CompareCheck(Forge(s), (Rights)(s.Rights & 0x3FFF)),
            _ => throw new ArgumentOutOfRangeException(nameof(s)),
        };
        Record(s.Op, _lastOk, _lastCode);
        if (diff is not null) return $"step {_step} {s}: {diff}";
        diff = CompareCounters();
        if (diff is null && _tokens.Count > 0)
            for (int k = 0; k < 4 && diff is null; k++) diff = CompareToken(_tokens[Pick(s.A * 31 + s.B * 7 + k * 101, _tokens.Count)]);
        return diff is null ? null : $"after step {_step} {s}: {diff}";
    }

    /// <summary>Compares every token ever issued (Check with every right and Inspect) and the manager's own invariants.</summary>
    public string? CompareAll()
    {
        foreach (var t in _tokens)
            if (CompareToken(t) is { } d) return $"after step {_step}: {d}";
        var inv = _real.VerifyInvariants();
        return inv.IsOk ? CompareCounters() : $"after step {_step}: the real manager's invariants fail: {inv.Error.Message}";
    }

    private GenericObject NewObject()
    {
        var o = new GenericObject($"o{_objects.Count}");
        _objects.Add(o);
        return o;
    }

    private string? Create(GenericObject obj, uint rights, int p)
    {
        // Mostly valid rights, sometimes with a bit that names no right (refused as InvalidArgument).
        uint r = (rights & 0x7) == 0 ? rights | UnknownRight : rights & 0x3FFF;
        var real = _real.Create(obj, (Rights)r, s_principals[p]);
        var model = Model.Create(_model, _objects.IndexOf(obj), r, p, SecretOf(real));
        return Issued(real, model);
    }

    private string? Derive(CapStep s, bool requireDelegate, bool charged)
    {
        var parent = PickToken(s.A);
        // Usually a subset of the parent's rights (read through Inspect, as any caller could), sometimes anything.
        uint rights = s.Rights & 0x3FFF;
        if (s.B % 4 != 0 && _real.Inspect(parent) is { IsOk: true } info) rights &= (uint)info.Value.Rights;
        var holder = s_principals[s.P1];
        var chargeTo = charged ? s_principals[s.P2] : holder;
        var real = charged ? _real.DeriveCharged(parent, (Rights)rights, holder, chargeTo, holder)
            : requireDelegate ? _real.Derive(parent, (Rights)rights, holder) : _real.DeriveForKernel(parent, (Rights)rights, holder);
        var model = Model.Derive(_model, ToModel(parent), rights, s.P1, charged ? s.P2 : s.P1, requireDelegate, SecretOf(real));
        return Issued(real, model);
    }

    private string? Move(CapStep s, bool requireTransfer)
    {
        var token = PickToken(s.A);
        var real = requireTransfer ? _real.Move(token, s_principals[s.P1], s_principals[s.P2], s_principals[s.P1])
            : _real.MoveForKernel(token, s_principals[s.P1], s_principals[s.P2]);
        var model = Model.Move(_model, ToModel(token), s.P1, s.P2, requireTransfer, SecretOf(real));
        return Issued(real, model);
    }

    private string? Revoke(CapabilityToken token, bool includeSelf)
    {
        var real = includeSelf ? _real.Revoke(token) : _real.RevokeDescendants(token);
        var model = Model.Revoke(_model, ToModel(token), includeSelf);
        _model = model.dtor_m;
        (_lastOk, _lastCode) = (real.IsOk, real.Code);
        if (SameOutcome(real.IsOk, real.Code, model.dtor_result) is { } d) return $"revoke {token}: {d}";
        if (real.IsOk && real.Value != (int)model.dtor_result.dtor_value)
            return $"revoke {token}: real revoked {real.Value}, model {model.dtor_result.dtor_value}";
        return null;
    }

    private string? Issued(Result<CapabilityToken> real, _IOutcome<_IToken> model)
    {
        _model = model.dtor_m;
        (_lastOk, _lastCode) = (real.IsOk, real.Code);
        if (SameOutcome(real.IsOk, real.Code, model.dtor_result) is { } d) return d;
        if (!real.IsOk) return null;
        var mt = model.dtor_result.dtor_value;
        if (!SameToken(real.Value, mt)) return $"real issued {Show(real.Value)}, model {Show(mt)}";
        _tokens.Add(real.Value);
        return null;
    }

    private string? CompareCheck(CapabilityToken token, Rights required)
    {
        var real = _real.Check(token, required);
        var model = Model.Check(_model, ToModel(token), (uint)required);
        (_lastOk, _lastCode) = (real.IsOk, real.Code);
        if (SameOutcome(real.IsOk, real.Code, model) is { } d) return $"check {Show(token)} for {required}: {d}";
        if (real.IsOk && _objects.IndexOf((GenericObject)real.Value) != (int)model.dtor_value)
            return $"check {Show(token)}: real names object {real.Value}, model object {model.dtor_value}";
        return null;
    }

    private string? CompareToken(CapabilityToken token)
    {
        if (CompareCheck(token, Rights.None) is { } d) return d;
        if (CompareCheck(token, Rights.All) is { } d2) return d2;
        var info = _real.Inspect(token);
        if (!info.IsOk) return null;
        var slot = _model.dtor_slots.Select((int)ToModel(token).dtor_index);
        var parent = slot.dtor_parent < 0 ? CapabilityToken.None : FromModel(Model.TokenOf(_model, slot.dtor_parent));
        if ((uint)info.Value.Rights != slot.dtor_rights || info.Value.Depth != (int)slot.dtor_depth
            || info.Value.Parent != parent || info.Value.Holder != s_principals[(int)slot.dtor_holder])
            return $"inspect {Show(token)}: real ({info.Value.Rights}, depth {info.Value.Depth}, parent {Show(info.Value.Parent)}, " +
                   $"{info.Value.Holder}), model ({slot.dtor_rights:x}, depth {slot.dtor_depth}, parent {Show(parent)}, p{slot.dtor_holder})";
        return null;
    }

    private string? CompareCounters()
    {
        if (_real.LiveCount != (long)_model.dtor_live) return $"live count: real {_real.LiveCount}, model {_model.dtor_live}";
        if (_real.QuarantineLength != (int)_model.dtor_free.LongCount)
            return $"quarantine: real {_real.QuarantineLength}, model {_model.dtor_free.LongCount}";
        for (int p = 0; p < Principals; p++)
        {
            long model = Get(_model.dtor_charge, p);
            if (_charges.GetValueOrDefault(s_principals[p]) != model)
                return $"charge of p{p}: real {_charges.GetValueOrDefault(s_principals[p])}, model {model}";
        }
        for (int o = 0; o < _objects.Count; o++)
        {
            long model = Get(_model.dtor_objLive, o);
            bool destroyed = _model.dtor_destroyed.Contains(new BigInteger(o));
            if (_objects[o].LiveCapabilities != model || _objects[o].IsDestroyed != destroyed)
                return $"object o{o}: real {_objects[o].LiveCapabilities} live, destroyed {_objects[o].IsDestroyed}; " +
                       $"model {model}, {destroyed}";
        }
        return null;
    }

    private static long Get(Dafny.IMap<BigInteger, BigInteger> map, int key) => (long)Model.Get(map, key);

    private static string? SameOutcome<T>(bool realOk, ErrorCode realCode, _IResult<T> model)
    {
        if (model.is_Err && model.dtor_error.is_Corrupted) return "the model reports its own revoke order as corrupted";
        if (realOk && model.is_Ok) return null;
        var modelCode = model.is_Ok ? ErrorCode.None : CodeOf(model.dtor_error);
        return realCode == modelCode ? null : $"real {(realOk ? "Ok" : realCode)}, model {(model.is_Ok ? "Ok" : modelCode)}";
    }

    private static ErrorCode CodeOf(_IError e) =>
        e.is_InvalidHandle ? ErrorCode.InvalidHandle
        : e.is_UnknownCapability ? ErrorCode.UnknownCapability
        : e.is_StaleCapability ? ErrorCode.StaleCapability
        : e.is_Revoked ? ErrorCode.Revoked
        : e.is_AccessDenied ? ErrorCode.AccessDenied
        : e.is_QuotaExceeded ? ErrorCode.QuotaExceeded
        : e.is_InvalidArgument ? ErrorCode.InvalidArgument
        : ErrorCode.Corrupted;

    // Forged, stale and malformed tokens: a known token with a changed generation or secret, a made-up slot, or none.
    private CapabilityToken Forge(CapStep s)
    {
        var t = PickToken(s.A);
        return (s.B & 7) switch
        {
            0 => CapabilityToken.None,
            1 => CapabilityToken.Make(t.SlotIndex, t.Secret, t.Generation + 1),
            2 => CapabilityToken.Make(t.SlotIndex, t.Secret, t.Generation - 1),
            3 => CapabilityToken.Make(t.SlotIndex, t.Secret ^ 1, t.Generation),
            4 => CapabilityToken.Make(s.A & 0xFFFF, t.Secret, t.Generation),
            5 => CapabilityToken.Make(t.SlotIndex, t.Secret, 0),
            6 => new CapabilityToken((UInt128)(uint)s.A, (uint)s.B),
            _ => t,
        };
    }

    private CapabilityToken PickToken(int a) => _tokens.Count == 0 ? CapabilityToken.None : _tokens[Pick(a, _tokens.Count)];

    private static int Pick(int a, int count) => (int)((uint)a % (uint)count);

    private static BigInteger SecretOf(Result<CapabilityToken> r) => r.IsOk ? (BigInteger)r.Value.Secret : BigInteger.One;

    private static _IToken ToModel(CapabilityToken t) => Token.create(t.SlotIndex, (BigInteger)t.Secret, t.Generation);

    private static CapabilityToken FromModel(_IToken t) =>
        CapabilityToken.Make((int)t.dtor_index, (UInt128)t.dtor_secret, (uint)t.dtor_gen);

    private static bool SameToken(CapabilityToken real, _IToken model) =>
        real.SlotIndex == model.dtor_index && (BigInteger)real.Secret == model.dtor_secret && real.Generation == model.dtor_gen;

    private static string Show(CapabilityToken t) => t.IsNone ? "none" : $"#{t.SlotIndex}/g{t.Generation}";

    private static string Show(_IToken t) => $"#{t.dtor_index}/g{t.dtor_gen}";
}
