//! Argument, local and expression terms (ACPI 6.5 sections 20.2.5.4 and 20.2.6).

use super::name::Path;
use super::{Aml, AmlWriter, opcode};
use crate::Error;

/// `ArgN`, N in 0..=6.
#[derive(Clone, Copy, Debug)]
pub struct Arg(pub u8);

impl Aml for Arg {
    fn to_aml(&self, w: &mut AmlWriter<'_>) {
        if self.0 > 6 {
            return w.fail(Error::InvalidAmlOperand("Arg index above 6"));
        }
        w.byte(opcode::ARG0 + self.0)
    }
}

/// `LocalN`, N in 0..=7.
#[derive(Clone, Copy, Debug)]
pub struct Local(pub u8);

impl Aml for Local {
    fn to_aml(&self, w: &mut AmlWriter<'_>) {
        if self.0 > 7 {
            return w.fail(Error::InvalidAmlOperand("Local index above 7"));
        }
        w.byte(opcode::LOCAL0 + self.0)
    }
}

macro_rules! binary_logic {
    ($($(#[$doc:meta])* $name:ident = $op:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<'a>(pub &'a dyn Aml, pub &'a dyn Aml);

        impl Aml for $name<'_> {
            fn to_aml(&self, w: &mut AmlWriter<'_>) {
                w.byte(opcode::$op);
                self.0.to_aml(w);
                self.1.to_aml(w)
            }
        }
    )*};
}

binary_logic! {
    /// `LAnd (a, b)`.
    LAnd = LAND;
    /// `LOr (a, b)`.
    LOr = LOR;
    /// `LEqual (a, b)`.
    LEqual = LEQUAL;
    /// `LGreater (a, b)`.
    LGreater = LGREATER;
    /// `LLess (a, b)`.
    LLess = LLESS;
}

macro_rules! binary_arithmetic {
    ($($(#[$doc:meta])* $name:ident = $op:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<'a>(pub &'a dyn Aml, pub &'a dyn Aml);

        impl Aml for $name<'_> {
            fn to_aml(&self, w: &mut AmlWriter<'_>) {
                w.byte(opcode::$op);
                self.0.to_aml(w);
                self.1.to_aml(w);
                w.byte(0x00) // Target: NullName, the result is only returned.
            }
        }
    )*};
}

binary_arithmetic! {
    /// `Add (a, b)` without a target.
    Add = ADD;
    /// `Subtract (a, b)` without a target.
    Subtract = SUBTRACT;
    /// `And (a, b)` without a target.
    And = AND;
    /// `Or (a, b)` without a target.
    Or = OR;
    /// `Index (object, index)` without a target.
    Index = INDEX;
}

macro_rules! unary {
    ($($(#[$doc:meta])* $name:ident = $op:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name<'a>(pub &'a dyn Aml);

        impl Aml for $name<'_> {
            fn to_aml(&self, w: &mut AmlWriter<'_>) {
                w.byte(opcode::$op);
                self.0.to_aml(w)
            }
        }
    )*};
}

unary! {
    /// `LNot (a)`.
    LNot = LNOT;
    /// `DerefOf (reference)`.
    DerefOf = DEREF_OF;
    /// `SizeOf (object)`.
    SizeOf = SIZE_OF;
}

/// A method invocation: the method's name followed by its arguments
/// (MethodInvocation, section 20.2.5.4). The argument count must match the
/// method's declaration, which the AML grammar relies on to parse the call.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    /// Name path of the method.
    pub method: &'a str,
    /// Arguments, at most 7.
    pub args: &'a [&'a dyn Aml],
}

impl Aml for Call<'_> {
    fn to_aml(&self, w: &mut AmlWriter<'_>) {
        if self.args.len() > 7 {
            return w.fail(Error::InvalidAmlOperand("a method takes at most 7 arguments"));
        }
        Path(self.method).to_aml(w);
        self.args.iter().for_each(|a| a.to_aml(w))
    }
}
