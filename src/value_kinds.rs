//! [`ValueKinds`]: which kinds of JSON value (null, bool, integer, float,
//! string, nested) were found under a key, as a set; what types a column
//! of an answer.

use crate::value::Value;

/// The kinds of values found under one key across the runs of an answer.
///
/// ```
/// use runreg::ValueKinds;
///
/// let kinds = ValueKinds::INT | ValueKinds::FLOAT;
/// assert!(kinds.only_numbers());
/// assert!(!kinds.only_ints());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ValueKinds(u8);

impl ValueKinds {
    /// `null`
    pub const NULL: ValueKinds = ValueKinds(1);
    /// `true` or `false`
    pub const BOOL: ValueKinds = ValueKinds(2);
    /// An integer.
    pub const INT: ValueKinds = ValueKinds(4);
    /// A float (NaN and infinities included).
    pub const FLOAT: ValueKinds = ValueKinds(8);
    /// A string.
    pub const STR: ValueKinds = ValueKinds(16);
    /// A list or an object.
    pub const NESTED: ValueKinds = ValueKinds(32);

    /// The kind of `value`.
    ///
    /// ```
    /// use runreg::{Value, ValueKinds};
    ///
    /// assert_eq!(ValueKinds::of(&Value::Float(f64::NAN)), ValueKinds::FLOAT);
    /// assert_eq!(ValueKinds::of(&Value::List(vec![])), ValueKinds::NESTED);
    /// ```
    pub fn of(value: &Value) -> ValueKinds {
        match value {
            Value::Null => ValueKinds::NULL,
            Value::Bool(_) => ValueKinds::BOOL,
            Value::Int(_) => ValueKinds::INT,
            Value::Float(_) => ValueKinds::FLOAT,
            Value::Str(_) => ValueKinds::STR,
            Value::List(_) | Value::Map(_) => ValueKinds::NESTED,
        }
    }

    /// Whether every kind of `other` is among these.
    pub fn contains(self, other: ValueKinds) -> bool {
        self.0 & other.0 == other.0
    }

    /// The kinds besides `null`.
    pub fn present(self) -> ValueKinds {
        ValueKinds(self.0 & !ValueKinds::NULL.0)
    }

    /// Integers only (and nulls).
    pub fn only_ints(self) -> bool {
        self.present() == ValueKinds::INT
    }

    /// Numbers only, integers or floats (and nulls), at least one.
    pub fn only_numbers(self) -> bool {
        let present = self.present();
        present.0 != 0 && (ValueKinds::INT | ValueKinds::FLOAT).contains(present)
    }

    /// Exactly one kind besides `null`: `Some(kind)`.
    pub fn single(self) -> Option<ValueKinds> {
        let present = self.present();
        (present.0.count_ones() == 1).then_some(present)
    }
}

impl std::ops::BitOr for ValueKinds {
    type Output = ValueKinds;

    fn bitor(self, rhs: ValueKinds) -> ValueKinds {
        ValueKinds(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for ValueKinds {
    fn bitor_assign(&mut self, rhs: ValueKinds) {
        self.0 |= rhs.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_predicates() {
        let ints = ValueKinds::INT | ValueKinds::NULL;
        assert!(ints.only_ints() && ints.only_numbers());
        assert_eq!(ints.single(), Some(ValueKinds::INT));
        assert!(!ValueKinds::NULL.only_numbers());
        assert_eq!(ValueKinds::NULL.single(), None);
        let mixed = ValueKinds::INT | ValueKinds::STR;
        assert!(!mixed.only_numbers());
        assert_eq!(mixed.single(), None);
        assert!(mixed.contains(ValueKinds::STR));
        assert!(!mixed.contains(ValueKinds::STR | ValueKinds::BOOL));
        assert_eq!(
            (ValueKinds::FLOAT | ValueKinds::NULL).present(),
            ValueKinds::FLOAT
        );
    }
}
