//! `Math.sin`, `cos`, `tan`, `atan`, `exp` and `log` exactly as Node's V8 computes them.
//!
//! V8 evaluates these with its own port of fdlibm (Sun's freely distributable libm), while Rust's
//! `f64` methods call the platform libm (glibc here). Both are accurate to within an ulp, but
//! they disagree in the last bit now and then — and a last bit decides whether a machine on a
//! tile border lies inside that tile's box, or which latitude a cluster is reported at. So the
//! clustering and the tile math use these ports of the fdlibm algorithms instead. The fixture
//! `fixtures/supercluster/cases/js-math.json` pins them against Node (20, V8 11.3).
//!
//! Constants are given by their IEEE-754 bit patterns so there is no doubt about their value.
//! The argument reduction for sin/cos/tan covers |x| < 2^19·π/2 (~823550 radians, latitudes
//! of ±47 million degrees); beyond that the platform libm is used, which is never reached
//! from valid coordinates.

const fn bits(b: u64) -> f64 {
    f64::from_bits(b)
}

/// The upper 32 bits of `x`, signed like fdlibm's `int32_t hx`.
fn high_word(x: f64) -> i32 {
    (x.to_bits() >> 32) as i32
}

fn low_word(x: f64) -> u32 {
    x.to_bits() as u32
}

fn from_words(high: i32, low: u32) -> f64 {
    f64::from_bits((u64::from(high as u32) << 32) | u64::from(low))
}

fn with_high_word(x: f64, high: i32) -> f64 {
    from_words(high, low_word(x))
}

fn with_low_word(x: f64, low: u32) -> f64 {
    from_words(high_word(x), low)
}

// ------------------------------------------------------------------------------------------
// sin, cos, tan

/// `x - n·π/2 = y0 + y1` with |y0| ≲ π/4: `(n, y0, y1)` for π/4 < |x| <= 2^19·π/2, else `None`.
fn rem_pio2(x: f64) -> Option<(i32, f64, f64)> {
    const INV_PIO2: f64 = bits(0x3FE4_5F30_6DC9_C883); // 53 bits of 2/π
    const PIO2_1: f64 = bits(0x3FF9_21FB_5440_0000); // first 33 bits of π/2
    const PIO2_1T: f64 = bits(0x3DD0_B461_1A62_6331); // π/2 - PIO2_1
    const PIO2_2: f64 = bits(0x3DD0_B461_1A60_0000); // second 33 bits of π/2
    const PIO2_2T: f64 = bits(0x3BA3_198A_2E03_7073); // π/2 - (PIO2_1 + PIO2_2)
    const PIO2_3: f64 = bits(0x3BA3_198A_2E00_0000); // third 33 bits of π/2
    const PIO2_3T: f64 = bits(0x397B_839A_2520_49C1); // π/2 - (PIO2_1 + PIO2_2 + PIO2_3)
    /// High words of n·π/2 for n = 1..=32: close to these, the quick reduction cancels badly.
    const NPIO2_HW: [i32; 32] = [
        0x3FF921FB, 0x400921FB, 0x4012D97C, 0x401921FB, 0x401F6A7A, 0x4022D97C, 0x4025FDBB, 0x402921FB, 0x402C463A,
        0x402F6A7A, 0x4031475C, 0x4032D97C, 0x40346B9C, 0x4035FDBB, 0x40378FDB, 0x403921FB, 0x403AB41B, 0x403C463A,
        0x403DD85A, 0x403F6A7A, 0x40407E4C, 0x4041475C, 0x4042106C, 0x4042D97C, 0x4043A28C, 0x40446B9C, 0x404534AC,
        0x4045FDBB, 0x4046C6CB, 0x40478FDB, 0x404858EB, 0x404921FB,
    ];

    let hx = high_word(x);
    let ix = hx & 0x7FFF_FFFF;
    if ix <= 0x3FE9_21FB || ix > 0x4139_21FB {
        return None;
    }
    if ix < 0x4002_D97C {
        // |x| < 3π/4: n = ±1; right at π/2 a longer π/2 is needed.
        let sign = if hx > 0 { 1.0 } else { -1.0 };
        let mut z = x - sign * PIO2_1;
        let tail = if ix != 0x3FF9_21FB {
            PIO2_1T
        } else {
            z -= sign * PIO2_2;
            PIO2_2T
        };
        let y0 = z - sign * tail;
        let y1 = (z - y0) - sign * tail;
        return Some((if hx > 0 { 1 } else { -1 }, y0, y1));
    }
    let t = x.abs();
    let n = (t * INV_PIO2 + 0.5) as i32;
    let n_f = f64::from(n);
    let mut r = t - n_f * PIO2_1;
    let mut w = n_f * PIO2_1T;
    let mut y0 = r - w;
    if n >= 32 || ix == NPIO2_HW[(n - 1) as usize] {
        let exponent = ix >> 20;
        let lost_bits = |y: f64| exponent - ((high_word(y) >> 20) & 0x7FF);
        if lost_bits(y0) > 16 {
            let t = r;
            w = n_f * PIO2_2;
            r = t - w;
            w = n_f * PIO2_2T - ((t - r) - w);
            y0 = r - w;
            if lost_bits(y0) > 49 {
                let t = r;
                w = n_f * PIO2_3;
                r = t - w;
                w = n_f * PIO2_3T - ((t - r) - w);
                y0 = r - w;
            }
        }
    }
    let y1 = (r - y0) - w;
    Some(if hx < 0 { (-n, -y0, -y1) } else { (n, y0, y1) })
}

/// sin(x + y) for |x| ≲ π/4, `y` the tail of `x` (ignored when `y_is_zero`).
fn kernel_sin(x: f64, y: f64, y_is_zero: bool) -> f64 {
    const S1: f64 = bits(0xBFC5_5555_5555_5549);
    const S2: f64 = bits(0x3F81_1111_1110_F8A6);
    const S3: f64 = bits(0xBF2A_01A0_19C1_61D5);
    const S4: f64 = bits(0x3EC7_1DE3_57B1_FE7D);
    const S5: f64 = bits(0xBE5A_E5E6_8A2B_9CEB);
    const S6: f64 = bits(0x3DE5_D93A_5ACF_D57C);

    if high_word(x) & 0x7FFF_FFFF < 0x3E40_0000 {
        return x; // |x| < 2^-27
    }
    let z = x * x;
    let v = z * x;
    let r = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
    if y_is_zero {
        x + v * (S1 + z * r)
    } else {
        x - ((z * (0.5 * y - v * r) - y) - v * S1)
    }
}

/// cos(x + y) for |x| ≲ π/4, `y` the tail of `x`.
fn kernel_cos(x: f64, y: f64) -> f64 {
    const C1: f64 = bits(0x3FA5_5555_5555_554C);
    const C2: f64 = bits(0xBF56_C16C_16C1_5177);
    const C3: f64 = bits(0x3EFA_01A0_19CB_1590);
    const C4: f64 = bits(0xBE92_7E4F_809C_52AD);
    const C5: f64 = bits(0x3E21_EE9E_BDB4_B1C4);
    const C6: f64 = bits(0xBDA8_FAE9_BE88_38D4);

    let ix = high_word(x) & 0x7FFF_FFFF;
    if ix < 0x3E40_0000 {
        return 1.0; // |x| < 2^-27
    }
    let z = x * x;
    let r = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
    if ix < 0x3FD3_3333 {
        return 1.0 - (0.5 * z - (z * r - x * y)); // |x| < 0.3
    }
    // Subtract a quarter of x² exactly first (qx ≈ |x|/4) to keep the rounding error small.
    let qx = if ix > 0x3FE9_0000 {
        0.28125
    } else {
        from_words(ix - 0x0020_0000, 0)
    };
    let hz = 0.5 * z - qx;
    let a = 1.0 - qx;
    a - (hz - (z * r - x * y))
}

/// tan(x + y) (`odd == false`) or -1/tan(x + y) (`odd == true`) for |x| ≲ π/4.
fn kernel_tan(mut x: f64, mut y: f64, odd: bool) -> f64 {
    const T: [f64; 13] = [
        bits(0x3FD5_5555_5555_5563),
        bits(0x3FC1_1111_1110_FE7A),
        bits(0x3FAB_A1BA_1BB3_41FE),
        bits(0x3F96_64F4_8406_D637),
        bits(0x3F82_26E3_E96E_8493),
        bits(0x3F6D_6D22_C956_0328),
        bits(0x3F57_DBC8_FEE0_8315),
        bits(0x3F43_44D8_F2F2_6501),
        bits(0x3F30_26F7_1A8D_1068),
        bits(0x3F14_7E88_A037_92A6),
        bits(0x3F12_B80F_32F0_A7E9),
        bits(0xBEF3_75CB_DB60_5373),
        bits(0x3EFB_2A70_74BF_7AD4),
    ];
    const PIO4: f64 = bits(0x3FE9_21FB_5444_2D18);
    const PIO4_LO: f64 = bits(0x3C81_A626_3314_5C07);

    /// -1/(x + y) to full precision, by splitting into high and low parts.
    fn negative_reciprocal(x: f64, y: f64) -> f64 {
        let w = x + y;
        let z = with_low_word(w, 0);
        let v = y - (z - x);
        let a = -1.0 / w;
        let t = with_low_word(a, 0);
        let s = 1.0 + t * z;
        t + a * (s + t * v)
    }

    let hx = high_word(x);
    let ix = hx & 0x7FFF_FFFF;
    if ix < 0x3E30_0000 {
        // |x| < 2^-28
        if !odd {
            return x;
        }
        if ix as u32 | low_word(x) == 0 {
            return 1.0 / x.abs(); // -1/tan(±0), as fdlibm: +∞
        }
        return negative_reciprocal(x, y);
    }
    let big = ix >= 0x3FE5_9428; // |x| >= 0.6744: use tan(π/4 - x) instead
    if big {
        if hx < 0 {
            x = -x;
            y = -y;
        }
        x = (PIO4 - x) + (PIO4_LO - y);
        y = 0.0;
    }
    let z = x * x;
    let w = z * z;
    let r = T[1] + w * (T[3] + w * (T[5] + w * (T[7] + w * (T[9] + w * T[11]))));
    let v = z * (T[2] + w * (T[4] + w * (T[6] + w * (T[8] + w * (T[10] + w * T[12])))));
    let s = z * x;
    let r = y + z * (s * (r + v) + y);
    let r = r + T[0] * s;
    let w = x + r;
    if big {
        let v = if odd { -1.0 } else { 1.0 };
        let sign = f64::from(1 - ((hx >> 30) & 2));
        return sign * (v - 2.0 * (x - (w * w / (w + v) - r)));
    }
    if odd {
        negative_reciprocal(x, r)
    } else {
        w
    }
}

/// `Math.sin`.
pub(crate) fn sin(x: f64) -> f64 {
    let ix = high_word(x) & 0x7FFF_FFFF;
    if ix <= 0x3FE9_21FB {
        return kernel_sin(x, 0.0, true); // |x| <= π/4
    }
    if ix >= 0x7FF0_0000 {
        return f64::NAN; // ±∞ and NaN
    }
    match rem_pio2(x) {
        Some((n, y0, y1)) => match n & 3 {
            0 => kernel_sin(y0, y1, false),
            1 => kernel_cos(y0, y1),
            2 => -kernel_sin(y0, y1, false),
            _ => -kernel_cos(y0, y1),
        },
        None => x.sin(),
    }
}

/// `Math.cos`.
pub(crate) fn cos(x: f64) -> f64 {
    let ix = high_word(x) & 0x7FFF_FFFF;
    if ix <= 0x3FE9_21FB {
        return kernel_cos(x, 0.0);
    }
    if ix >= 0x7FF0_0000 {
        return f64::NAN;
    }
    match rem_pio2(x) {
        Some((n, y0, y1)) => match n & 3 {
            0 => kernel_cos(y0, y1),
            1 => -kernel_sin(y0, y1, false),
            2 => -kernel_cos(y0, y1),
            _ => kernel_sin(y0, y1, false),
        },
        None => x.cos(),
    }
}

/// `Math.tan`.
pub(crate) fn tan(x: f64) -> f64 {
    let ix = high_word(x) & 0x7FFF_FFFF;
    if ix <= 0x3FE9_21FB {
        return kernel_tan(x, 0.0, false);
    }
    if ix >= 0x7FF0_0000 {
        return f64::NAN;
    }
    match rem_pio2(x) {
        Some((n, y0, y1)) => kernel_tan(y0, y1, n & 1 == 1),
        None => x.tan(),
    }
}

// ------------------------------------------------------------------------------------------
// atan, exp, log

/// `Math.atan`.
pub(crate) fn atan(x: f64) -> f64 {
    const ATAN_HI: [f64; 4] = [
        bits(0x3FDD_AC67_0561_BB4F), // atan(0.5)
        bits(0x3FE9_21FB_5444_2D18), // atan(1)
        bits(0x3FEF_730B_D281_F69B), // atan(1.5)
        bits(0x3FF9_21FB_5444_2D18), // atan(∞)
    ];
    const ATAN_LO: [f64; 4] = [
        bits(0x3C7A_2B7F_222F_65E2),
        bits(0x3C81_A626_3314_5C07),
        bits(0x3C70_0788_7AF0_CBBD),
        bits(0x3C91_A626_3314_5C07),
    ];
    const AT: [f64; 11] = [
        bits(0x3FD5_5555_5555_550D),
        bits(0xBFC9_9999_9998_EBC4),
        bits(0x3FC2_4924_9200_83FF),
        bits(0xBFBC_71C6_FE23_1671),
        bits(0x3FB7_45CD_C54C_206E),
        bits(0xBFB3_B0F2_AF74_9A6D),
        bits(0x3FB1_0D66_A0D0_3D51),
        bits(0xBFAD_DE2D_52DE_FD9A),
        bits(0x3FA9_7B4B_2476_0DEB),
        bits(0xBFA2_B444_2C6A_6C2F),
        bits(0x3F90_AD3A_E322_DA11),
    ];

    let hx = high_word(x);
    let ix = hx & 0x7FFF_FFFF;
    if ix >= 0x4410_0000 {
        // |x| >= 2^66, ∞ or NaN
        if x.is_nan() {
            return x + x;
        }
        return if hx > 0 {
            ATAN_HI[3] + ATAN_LO[3]
        } else {
            -ATAN_HI[3] - ATAN_LO[3]
        };
    }
    // Reduce to |x| < 7/16 around one of 0, 0.5, 1, 1.5 or ∞.
    let (id, x) = if ix < 0x3FDC_0000 {
        if ix < 0x3E40_0000 {
            return x; // |x| < 2^-27
        }
        (None, x)
    } else {
        let a = x.abs();
        if ix < 0x3FE6_0000 {
            (Some(0), (2.0 * a - 1.0) / (2.0 + a))
        } else if ix < 0x3FF3_0000 {
            (Some(1), (a - 1.0) / (a + 1.0))
        } else if ix < 0x4003_8000 {
            (Some(2), (a - 1.5) / (1.0 + 1.5 * a))
        } else {
            (Some(3), -1.0 / a)
        }
    };
    let z = x * x;
    let w = z * z;
    let s1 = z * (AT[0] + w * (AT[2] + w * (AT[4] + w * (AT[6] + w * (AT[8] + w * AT[10])))));
    let s2 = w * (AT[1] + w * (AT[3] + w * (AT[5] + w * (AT[7] + w * AT[9]))));
    match id {
        None => x - x * (s1 + s2),
        Some(id) => {
            let z = ATAN_HI[id] - ((x * (s1 + s2) - ATAN_LO[id]) - x);
            if hx < 0 {
                -z
            } else {
                z
            }
        }
    }
}

/// `Math.exp`.
pub(crate) fn exp(x: f64) -> f64 {
    const OVERFLOW: f64 = bits(0x4086_2E42_FEFA_39EF); // 709.78…
    const UNDERFLOW: f64 = bits(0xC087_4910_D52D_3051); // -745.13…
    const LN2_HI: [f64; 2] = [bits(0x3FE6_2E42_FEE0_0000), bits(0xBFE6_2E42_FEE0_0000)];
    const LN2_LO: [f64; 2] = [bits(0x3DEA_39EF_3579_3C76), bits(0xBDEA_39EF_3579_3C76)];
    const INV_LN2: f64 = bits(0x3FF7_1547_652B_82FE);
    const P1: f64 = bits(0x3FC5_5555_5555_553E);
    const P2: f64 = bits(0xBF66_C16C_16BE_BD93);
    const P3: f64 = bits(0x3F11_566A_AF25_DE2C);
    const P4: f64 = bits(0xBEBB_BD41_C5D2_6BF1);
    const P5: f64 = bits(0x3E66_3769_72BE_A4D0);
    const E: f64 = bits(0x4005_BF0A_8B14_5769);
    const TWO_M1000: f64 = bits(0x0170_0000_0000_0000);
    const TWO_1023: f64 = bits(0x7FE0_0000_0000_0000);

    let sign = (x.to_bits() >> 63) as usize;
    let hx = high_word(x) & 0x7FFF_FFFF;
    if hx >= 0x4086_2E42 {
        if x.is_nan() {
            return x + x;
        }
        if x.is_infinite() {
            return if sign == 0 { x } else { 0.0 };
        }
        if x > OVERFLOW {
            return f64::INFINITY;
        }
        if x < UNDERFLOW {
            return 0.0;
        }
    }

    // x = k·ln2 + r with |r| <= ln2/2, r kept as hi - lo.
    let (r, hi, lo, k) = if hx > 0x3FD6_2E42 {
        let (hi, lo, k) = if hx < 0x3FF0_A2B2 {
            // V8 special-cases e itself, where the general path misses the last bit.
            if x == 1.0 {
                return E;
            }
            (x - LN2_HI[sign], LN2_LO[sign], 1 - 2 * sign as i32)
        } else {
            let k = (INV_LN2 * x + [0.5, -0.5][sign]) as i32;
            let t = f64::from(k);
            (x - t * LN2_HI[0], t * LN2_LO[0], k)
        };
        (hi - lo, hi, lo, k)
    } else if hx < 0x3E30_0000 {
        return 1.0 + x; // |x| < 2^-28
    } else {
        (x, 0.0, 0.0, 0)
    };

    let t = r * r;
    let c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    if k == 0 {
        return 1.0 - ((r * c) / (c - 2.0) - r);
    }
    let y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    if k >= -1021 {
        if k == 1024 {
            return y * 2.0 * TWO_1023;
        }
        y * from_words(0x3FF0_0000 + (k << 20), 0)
    } else {
        y * from_words(0x3FF0_0000 + ((k + 1000) << 20), 0) * TWO_M1000
    }
}

/// `Math.log`.
pub(crate) fn log(x: f64) -> f64 {
    const LN2_HI: f64 = bits(0x3FE6_2E42_FEE0_0000);
    const LN2_LO: f64 = bits(0x3DEA_39EF_3579_3C76);
    const TWO54: f64 = bits(0x4350_0000_0000_0000);
    const LG1: f64 = bits(0x3FE5_5555_5555_5593);
    const LG2: f64 = bits(0x3FD9_9999_9997_FA04);
    const LG3: f64 = bits(0x3FD2_4924_9422_9359);
    const LG4: f64 = bits(0x3FCC_71C5_1D8E_78AF);
    const LG5: f64 = bits(0x3FC7_4664_96CB_03DE);
    const LG6: f64 = bits(0x3FC3_9A09_D078_C69F);
    const LG7: f64 = bits(0x3FC2_F112_DF3E_5244);
    const ONE_THIRD: f64 = bits(0x3FD5_5555_5555_5555);

    let mut x = x;
    let mut hx = high_word(x);
    let mut k = 0;
    if hx < 0x0010_0000 {
        // zero, negative or subnormal
        if (hx & 0x7FFF_FFFF) as u32 | low_word(x) == 0 {
            return f64::NEG_INFINITY;
        }
        if hx < 0 {
            return f64::NAN;
        }
        k -= 54;
        x *= TWO54;
        hx = high_word(x);
    }
    if hx >= 0x7FF0_0000 {
        return x + x;
    }
    // x = 2^k · (1 + f) with √2/2 < 1 + f < √2.
    k += (hx >> 20) - 1023;
    hx &= 0x000F_FFFF;
    let i = (hx + 0x95F64) & 0x10_0000;
    x = with_high_word(x, hx | (i ^ 0x3FF0_0000));
    k += i >> 20;
    let f = x - 1.0;
    let dk = f64::from(k);

    if (0x000F_FFFF & (2 + hx)) < 3 {
        // |f| < 2^-20
        if f == 0.0 {
            return if k == 0 { 0.0 } else { dk * LN2_HI + dk * LN2_LO };
        }
        let r = f * f * (0.5 - ONE_THIRD * f);
        return if k == 0 {
            f - r
        } else {
            dk * LN2_HI - ((r - dk * LN2_LO) - f)
        };
    }
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    // Far from 1 (f not small), the hfsq form is more accurate.
    if ((hx - 0x6147A) | (0x6B851 - hx)) > 0 {
        let hfsq = 0.5 * f * f;
        if k == 0 {
            f - (hfsq - s * (hfsq + r))
        } else {
            dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)
        }
    } else if k == 0 {
        f - s * (f - r)
    } else {
        dk * LN2_HI - ((s * (f - r) - dk * LN2_LO) - f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_values_follow_javascript() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(1.0), std::f64::consts::E);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(-746.0), 0.0);
        assert_eq!(log(1.0), 0.0);
        assert_eq!(log(0.0), f64::NEG_INFINITY);
        assert_eq!(log(f64::INFINITY), f64::INFINITY);
        assert!(log(-1.0).is_nan() && sin(f64::INFINITY).is_nan() && tan(f64::NAN).is_nan());
        assert_eq!(atan(f64::INFINITY), std::f64::consts::FRAC_PI_2);
        assert_eq!(atan(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(sin(0.0), 0.0);
        assert_eq!(cos(0.0), 1.0);
    }

    #[test]
    fn agrees_with_the_platform_to_within_an_ulp() {
        // A sanity net beside the exact fixture: both libms are faithfully rounded.
        let close = |a: f64, b: f64| (a - b).abs() <= 2.0 * f64::EPSILON * b.abs().max(f64::MIN_POSITIVE);
        for i in 1..2000 {
            let x = i as f64 * 0.0137 - 13.0;
            assert!(close(sin(x), x.sin()), "sin {x}");
            assert!(close(cos(x), x.cos()), "cos {x}");
            assert!(close(tan(x), x.tan()), "tan {x}");
            assert!(close(atan(x), x.atan()), "atan {x}");
            assert!(close(exp(x), x.exp()), "exp {x}");
            assert!(close(log(x.abs()), x.abs().ln()), "log {x}");
        }
    }
}
