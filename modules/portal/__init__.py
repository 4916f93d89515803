"""The citizens' portal: sign-in of citizens (separate from staff), applying, following the case and its payments,
appealing or complaining in one step, and the digital low-income certificate's download."""
