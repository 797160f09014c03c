// A composer input a person must fix: thrown by the steps' readers, shown by fieldError on
// that input (ui/form.js).
export class Invalid extends Error {
  constructor(input, message) {
    super(message);
    this.input = input;
  }
}
