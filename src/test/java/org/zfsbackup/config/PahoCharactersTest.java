package org.zfsbackup.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import org.eclipse.paho.client.mqttv3.internal.wire.MqttWireMessage;
import org.junit.jupiter.api.Test;

/**
 * {@link ConfigRules#unsendable} against the check it stands in for, Paho's own ({@code
 * MqttWireMessage.validateUTF8String}, called here by reflection): what Paho refuses at every
 * connect must be refused when the configuration loads. Catches a rule written from Paho's intent
 * rather than its code (it refuses every character from U+FDD0 up, and every one beyond U+FFFF).
 */
class PahoCharactersTest {
  static boolean pahoRefuses(String s) throws ReflectiveOperationException {
    Method validate = MqttWireMessage.class.getDeclaredMethod("validateUTF8String", String.class);
    validate.setAccessible(true);
    try {
      validate.invoke(null, s);
      return false;
    } catch (InvocationTargetException e) {
      return e.getCause() instanceof IllegalArgumentException;
    }
  }

  @Test
  void everyCharacterPahoRefuses_refusedAtLoad_noOtherButLoneSurrogates() throws Exception {
    for (int c = 0; c <= 0xFFFF; c++) {
      String s = "a" + (char) c + "b";
      boolean paho = pahoRefuses(s);
      boolean ours = ConfigRules.unsendable(s) >= 0;
      if (Character.isSurrogate((char) c)) {
        // A lone surrogate: Paho lets some through, which Java then sends as '?'. Refused here.
        assertTrue(ours, Integer.toHexString(c));
      } else {
        assertEquals(paho, ours, "U+" + Integer.toHexString(c));
      }
    }
    for (String pair : new String[] {"\uD83D\uDE80", "\uD800\uDC00", "\uDBFF\uDFFD"}) {
      assertTrue(pahoRefuses("a" + pair), pair);
      assertEquals(1, ConfigRules.unsendable("a" + pair), pair);
    }
  }
}
