import { auth } from './api.js';
import { contactOf, startsChallenge } from './forms.js';

startsChallenge('signup', (form) => {
  const fields = form.elements as HTMLFormControlsCollection & Record<'identifier' | 'password', HTMLInputElement>;
  return auth.register({ ...contactOf(fields.identifier.value), password: fields.password.value });
});
